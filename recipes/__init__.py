"""Training recipes of keras-robust: the paper's experiments as scripts.

- `recipes.runner`: `RunConfig` (every setting of one run) and `run()`, which
  trains one configuration with `model.fit`, resumes an interrupted run from
  its last epoch and writes `<output_dir>/<run_id>/results.json`.
- `recipes.train`: one run from the command line (absl flags).
- `recipes.quickstart`: CE against robust losses on the offline "digits"
  set with 40 % label noise, in a few minutes on a laptop CPU.
- `recipes.sweep`: paper Tables 2 and 3 as a keras-tuner grid search
  (resumable, distributable over several machines).
- `recipes.tune_lr`: supplement Table 1, the MLP learning-rate grid.
- `recipes.report`: the tables (next to the paper's numbers) and the
  accuracy curves of Figs. 2-4 from a results directory.
- `recipes.figure1`: paper Fig. 1 from `keras_robust.analysis`.
- `recipes.atomic_files`: the atomic writers behind every output file.

The training scripts are thin fronts over `recipes.runner`.
"""

import os

# The scripts' default: no TensorFlow start-up INFO/WARNING lines.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
