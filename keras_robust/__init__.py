"""keras-robust: noise-robust losses and the output bias for Keras 3.

Implements Staats, Thamm & Rosenow, "Reevaluating Loss Functions: Enhancing
Robustness to Label Noise in Deep Learning Models" (2023):

- `keras_robust.losses`: CE, MAE, genCE, symCE, actPas1, actPas2, biTemp,
  boundCE as Keras losses, `get()` by name and `recommend()` (paper Table 4).
- `keras_robust.layers.CorrectClassBias`: the output bias eps as a layer.
- `keras_robust.solve_output_bias`: eps from paper eq. 2.
- `keras_robust.estimate_noise`: the fraction of wrong labels (a
  `NoiseEstimate`), by confident learning.
- `keras_robust.presets`: the paper's loss hyperparameters by loss and
  number of classes.
- `keras_robust.analysis`: the learning curves of paper Fig. 1.
- `keras_robust.data`: datasets, label noise, augmentation, tf.data pipelines
  (its tf.data parts import TensorFlow on first use). Importing
  `keras_robust` registers its `DeviceAugmentation` layer, so that
  `keras.models.load_model` finds it in a saved model.
"""

from keras_robust import analysis
from keras_robust import data
from keras_robust import layers
from keras_robust import losses
from keras_robust import presets
from keras_robust.noise_estimation import NoiseEstimate
from keras_robust.noise_estimation import estimate_noise
from keras_robust.output_bias import expected_labelled_output
from keras_robust.output_bias import solve_output_bias

__version__ = "0.1.0"

