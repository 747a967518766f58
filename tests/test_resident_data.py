"""Tests of the device-resident data path (`keras_robust.data.resident`),
its trainer option and the keras.datasets source. No TensorFlow is needed:
CI runs this module under every Keras backend."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_robust import data
from recipes import config as config_lib
from recipes import train_lib

pytestmark = pytest.mark.backend_independent

CIFAR10 = data.get_spec("cifar10")


def _indexed(num_train=300, num_test=50, spec=CIFAR10, seed=0):
    """A `Dataset` whose image `i` carries `i` in its first two pixels."""
    rng = np.random.default_rng(seed)

    def images(count):
        array = rng.integers(0, 256, (count, *spec.image_shape), dtype=np.uint8)
        array[:, 0, 0, 0] = np.arange(count) % 256
        array[:, 0, 1, 0] = np.arange(count) // 256
        return array

    return data.Dataset(
        spec=spec,
        x_train=images(num_train),
        y_train=rng.integers(0, spec.num_classes, num_train),
        x_test=images(num_test),
        y_test=rng.integers(0, spec.num_classes, num_test),
    )


def _index_of(images):
    images = ops.convert_to_numpy(images).astype(np.int64)
    return images[:, 0, 0, 0] + 256 * images[:, 0, 1, 0]


def _batches(py_dataset, count):
    return [
        tuple(ops.convert_to_numpy(part) for part in py_dataset[i])
        for i in range(count)
    ]


def test_epoch_permutation_is_a_seeded_permutation():
    first = data.epoch_permutation(3, 0, 1000)
    assert first.dtype == np.int32
    np.testing.assert_array_equal(np.sort(first), np.arange(1000))
    np.testing.assert_array_equal(first, data.epoch_permutation(3, 0, 1000))
    assert not np.array_equal(first, data.epoch_permutation(3, 1, 1000))
    assert not np.array_equal(first, data.epoch_permutation(4, 0, 1000))
    # Negative seeds (allowed by make_pipelines) work too.
    assert np.array_equal(
        data.epoch_permutation(-1, 2, 50), data.epoch_permutation(-1, 2, 50)
    )


def test_training_stream_visits_each_example_once_per_epoch():
    dataset = _indexed(num_train=300)
    resident = data.make_resident_data(
        dataset, batch_size=64, noise_rate=0.5, seed=7
    )
    assert resident.steps_per_epoch == 5
    stream = resident.train_dataset()
    assert stream.num_batches is None
    batches = _batches(stream, 10)
    sizes = [len(labels) for _, labels in batches]
    assert sizes == [64, 64, 64, 64, 44] * 2
    for epoch in range(2):
        images = np.concatenate([b[0] for b in batches[5 * epoch : 5 * epoch + 5]])
        labels = np.concatenate([b[1] for b in batches[5 * epoch : 5 * epoch + 5]])
        order = _index_of(images)
        np.testing.assert_array_equal(order, data.epoch_permutation(7, epoch, 300))
        np.testing.assert_array_equal(images, dataset.x_train[order])
        np.testing.assert_array_equal(labels, resident.noisy_labels[order])
        assert images.dtype == np.uint8 and labels.dtype == np.int32


def test_stream_resumed_at_epoch_k_continues_the_stream():
    resident = data.make_resident_data(
        _indexed(), batch_size=64, noise_rate=0.5, seed=7
    )
    straight = _batches(resident.train_dataset(), 15)
    resumed = _batches(resident.train_dataset(start_epoch=2), 5)
    for (images, labels), (expected_images, expected_labels) in zip(
        resumed, straight[10:]
    ):
        np.testing.assert_array_equal(images, expected_images)
        np.testing.assert_array_equal(labels, expected_labels)
    with pytest.raises(ValueError, match="start_epoch=-1"):
        resident.train_dataset(start_epoch=-1)


def test_test_and_false_label_sets():
    dataset = _indexed(num_train=300, num_test=50)
    resident = data.make_resident_data(
        dataset, batch_size=64, noise_rate=0.5, seed=1, eval_batch_size=32
    )
    test = resident.test_dataset()
    assert len(test) == 2
    images, labels = (np.concatenate(part) for part in zip(*_batches(test, 2)))
    np.testing.assert_array_equal(images, dataset.x_test)
    np.testing.assert_array_equal(labels, dataset.y_test)
    with pytest.raises(IndexError):
        test[2]

    index = np.flatnonzero(resident.noise_mask)
    assert 0.35 < len(index) / 300 < 0.65
    false_label = resident.false_label_dataset()
    count = -(-len(index) // 32)
    assert len(false_label) == count
    images, labels = (
        np.concatenate(part) for part in zip(*_batches(false_label, count))
    )
    np.testing.assert_array_equal(_index_of(images), index)
    np.testing.assert_array_equal(labels, dataset.y_train[index])

    clean = data.make_resident_data(dataset, batch_size=64, noise_rate=0.0)
    assert clean.false_label_dataset() is None


def test_noise_is_that_of_prepare_run_data():
    dataset = _indexed()
    arguments = dict(batch_size=32, noise_rate=0.4, seed=5, train_size=200)
    resident = data.make_resident_data(dataset, **arguments)
    prepared = data.prepare_run_data(dataset, **arguments)
    np.testing.assert_array_equal(resident.noisy_labels, prepared.noisy_labels)
    np.testing.assert_array_equal(resident.noise_mask, prepared.noise_mask)
    assert resident.num_train_examples == 200
    assert resident.noise_fraction == pytest.approx(prepared.noise_mask.mean())


def test_every_way_of_feeding_takes_one_feed_spec():
    dataset = _indexed()
    feed = data.FeedSpec(batch_size=32, noise_rate=0.4, seed=5, train_size=200)
    prepared = data.prepare_run_data(dataset, feed)
    resident = data.make_resident_data(dataset, feed)
    assert (prepared.batch_size, prepared.seed, prepared.num_train_examples) == (32, 5, 200)
    assert prepared.steps_per_epoch == resident.steps_per_epoch == 7  # ceil(200 / 32)
    np.testing.assert_array_equal(resident.noisy_labels, prepared.noisy_labels)
    # The same as its fields given as keyword arguments.
    by_name = data.prepare_run_data(
        dataset, batch_size=32, noise_rate=0.4, seed=5, train_size=200
    )
    np.testing.assert_array_equal(by_name.noisy_labels, prepared.noisy_labels)
    with pytest.raises(TypeError, match="not both"):
        data.prepare_run_data(dataset, feed, seed=1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 0}, "batch_size=0"),
        ({"noise_rate": 1.5}, "noise_rate"),
        ({"noise_kind": "uniform"}, "noise_kind='uniform'"),
        ({"train_size": 301}, "train_size=301"),
    ],
)
def test_argument_errors(kwargs, message):
    arguments = {"batch_size": 8, "noise_rate": 0.2, **kwargs}
    with pytest.raises(ValueError, match=message):
        data.make_resident_data(_indexed(), **arguments)


def test_device_augmentation_layer_follows_augment():
    resident = data.make_resident_data(
        _indexed(), batch_size=8, noise_rate=0.0, seed=3
    )
    layer = resident.device_augmentation()
    assert layer.policy == "flip_crop" and layer.seed == 3
    assert layer.mean == CIFAR10.mean
    plain = data.make_resident_data(
        _indexed(), batch_size=8, noise_rate=0.0, augment=False
    )
    assert plain.device_augmentation(seed=1).policy == "none"


def test_model_fits_and_evaluates_on_resident_data():
    dataset = _indexed(num_train=96, num_test=40)
    resident = data.make_resident_data(
        dataset, batch_size=32, noise_rate=0.3, seed=0, eval_batch_size=16
    )
    keras.utils.set_random_seed(0)
    inputs = keras.Input(CIFAR10.image_shape, dtype="uint8")
    features = resident.device_augmentation()(inputs)
    features = keras.layers.GlobalAveragePooling2D()(features)
    model = keras.Model(inputs, keras.layers.Dense(10)(features))
    model.compile(
        optimizer="sgd",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(
        resident.train_dataset(),
        epochs=2,
        steps_per_epoch=resident.steps_per_epoch,
        shuffle=False,
        verbose=0,
    )
    assert np.all(np.isfinite(history.history["loss"]))
    for eval_data, size in (
        (resident.test_dataset(), 40),
        (resident.false_label_dataset(), int(resident.noise_mask.sum())),
    ):
        # Evaluated twice: the datasets are re-iterable, unlike generators.
        first = model.evaluate(eval_data, verbose=0, return_dict=True)
        again = model.evaluate(eval_data, verbose=0, return_dict=True)
        assert first["accuracy"] == pytest.approx(again["accuracy"])
        accuracy = first["accuracy"] * size
        assert accuracy == pytest.approx(round(accuracy), abs=1e-4)


# ---------------------------------------------------------------------------
# keras.datasets source.
# ---------------------------------------------------------------------------


def _fake_loader(x_train, y_train, x_test, y_test):
    return lambda *args, **kwargs: ((x_train, y_train), (x_test, y_test))


def test_keras_source_converts_keras_datasets_arrays(monkeypatch):
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    x_test = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    monkeypatch.setattr(
        keras.datasets.cifar10,
        "load_data",
        _fake_loader(
            x_train, np.arange(6, dtype=np.uint8)[:, None],
            x_test, np.arange(4, dtype=np.uint8)[:, None],
        ),
    )
    dataset = data.load_dataset("cifar10", source="keras")
    np.testing.assert_array_equal(dataset.x_train, x_train)
    assert dataset.y_train.shape == (6,) and dataset.y_train.dtype == np.int64
    np.testing.assert_array_equal(dataset.y_test, np.arange(4))

    # keras.datasets returns NCHW under image_data_format="channels_first".
    monkeypatch.setattr(
        keras.datasets.cifar10,
        "load_data",
        _fake_loader(
            x_train.transpose(0, 3, 1, 2), np.zeros((6, 1)),
            x_test.transpose(0, 3, 1, 2), np.zeros((4, 1)),
        ),
    )
    np.testing.assert_array_equal(
        data.load_dataset("cifar10", source="keras").x_train, x_train
    )

    gray = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    monkeypatch.setattr(
        keras.datasets.fashion_mnist,
        "load_data",
        _fake_loader(gray, np.arange(5), gray[:2], np.arange(2)),
    )
    fashion = data.load_dataset("fashion_mnist", source="keras")
    assert fashion.x_train.shape == (5, 28, 28, 1)
    np.testing.assert_array_equal(fashion.x_train[..., 0], gray)


def test_load_dataset_source_errors():
    with pytest.raises(ValueError, match=r"source='hub'.*\('tfds', 'keras'\)"):
        data.load_dataset("cifar10", source="hub")
    with pytest.raises(ValueError, match=r"data_dir='/x' with source='keras'"):
        data.load_dataset("cifar10", data_dir="/x", source="keras")


# ---------------------------------------------------------------------------
# recipes.train_lib with device_resident=True.
# ---------------------------------------------------------------------------


def _resident_spec(**fields):
    config = config_lib.get_default_config()
    config.dataset, config.model, config.loss = "cifar10", "mlp1024", "gce"
    config.batch_size, config.learning_rate, config.verbose = 16, 0.01, 0
    config.device_resident = True
    return config_lib.resolve(config_lib.override(config, fields))


def test_device_resident_is_part_of_the_run_id():
    tf_data = _resident_spec(device_resident=False)
    assert _resident_spec().run_id != tf_data.run_id
    from_keras = _resident_spec(device_resident=False, data_source="keras")
    assert from_keras.run_id != tf_data.run_id
    with pytest.raises(config_lib.ConfigError, match="data_source='hub'"):
        _resident_spec(data_source="hub")


def test_device_resident_run_resumes_exactly(tmp_path, kill_after):
    # CIFAR-10 shapes and policy (flip + crop inside the model).
    fake = _indexed(num_train=48, num_test=16)
    spec = _resident_spec(noise_rate=0.5, epochs=3, augment=True)
    straight = train_lib.train_and_evaluate(spec, tmp_path / "straight", data=fake)
    with pytest.raises(KeyboardInterrupt):
        train_lib.train_and_evaluate(
            spec, tmp_path / "killed", data=fake, callbacks=[kill_after(2)]
        )
    resumed = train_lib.train_and_evaluate(spec, tmp_path / "killed", data=fake)
    assert resumed.history == straight.history
    assert straight.settings["device_resident"]
    assert straight.versions["backend"] == keras.backend.backend()
    # Another seed draws other crops and orders.
    other = train_lib.train_and_evaluate(
        _resident_spec(noise_rate=0.5, epochs=3, augment=True, seed=1),
        tmp_path / "other", data=fake,
    )
    assert other.history["train_loss"] != straight.history["train_loss"]


class _RecordCompile(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.jit_compile = self.model.jit_compile


def test_train_step_is_compiled_under_jax(tmp_path):
    # jit_compile=False (the default, for TensorFlow's CPU) must not leave
    # jax running the train step op by op.
    fake = _indexed(num_train=32, num_test=8)
    spec = _resident_spec(epochs=1)
    assert not spec.jit_compile
    record = _RecordCompile()
    train_lib.train_and_evaluate(spec, tmp_path, data=fake, callbacks=[record])
    assert record.jit_compile == (keras.backend.backend() == "jax")
