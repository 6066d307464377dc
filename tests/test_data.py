"""Datasets (tfvae.data): honest splits, the three binarizations, repeatable pipelines, a careful
IDX reader, and an offline fallback that always says what it substituted."""

import gzip
import struct

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvae import config, data, training
from tfvae.errors import DataFormatError, DatasetUnavailableError, InvalidInputError


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


def rows(x):
    """The images of x as a sorted list of byte strings: a multiset that ignores order."""
    return sorted(image.tobytes() for image in np.asarray(x))


# --- splits ------------------------------------------------------------------------

def test_validation_is_carved_from_the_training_images(digits):
    whole = data.load("digits", validation_size=0)
    assert len(whole.validation) == 0 and len(digits.validation) > 0
    # train + validation is exactly the original training set, and the test set is untouched.
    assert rows(np.concatenate([digits.train.x, digits.validation.x])) == rows(whole.train.x)
    np.testing.assert_array_equal(digits.test.x, whole.test.x)
    np.testing.assert_array_equal(np.sort(np.concatenate([digits.train.y, digits.validation.y])),
                                  np.sort(whole.train.y))


def test_validation_size_as_a_fraction_and_the_seed_choose_the_validation_images(digits):
    fraction = data.load("digits", validation_size=0.1)
    assert len(fraction.validation) == round(0.1 * (len(digits.train) + len(digits.validation)))
    other_seed = data.load("digits", seed=1)
    assert rows(other_seed.validation.x) != rows(digits.validation.x)
    assert rows(data.load("digits", seed=0).validation.x) == rows(digits.validation.x)


def test_max_train_keeps_a_prefix_of_the_training_split_and_the_same_validation(digits):
    small = data.load("digits", max_train=100)
    np.testing.assert_array_equal(small.train.x, digits.train.x[:100])
    np.testing.assert_array_equal(small.validation.x, digits.validation.x)


def test_images_are_float32_in_the_unit_interval_with_integer_labels(digits):
    for split in data.SPLITS:
        part = digits.split(split)
        assert part.x.dtype == np.float32 and part.x.shape[1:] == (8, 8)
        assert part.x.min() >= 0 and part.x.max() <= 1
        assert part.y.dtype == np.int64 and len(part.y) == len(part.x)
    assert digits.image_shape == (8, 8) and len(digits.class_names) == 10


# --- binarization and pipelines ---------------------------------------------------------

def pipeline_images(ds, **kwargs):
    return np.concatenate([batch.numpy() for batch in ds.pipeline(**kwargs)])


def test_static_binarization_is_the_same_every_epoch(digits):
    a = pipeline_images(digits, binarization="static", shuffle=False, epoch=0)
    b = pipeline_images(digits, binarization="static", shuffle=False, epoch=5)
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) == {0.0, 1.0}


def test_dynamic_binarization_draws_afresh_every_epoch(digits):
    a = pipeline_images(digits, binarization="dynamic", shuffle=False, epoch=0)
    b = pipeline_images(digits, binarization="dynamic", shuffle=False, epoch=1)
    assert set(np.unique(a)) == {0.0, 1.0}
    assert np.mean(a != b) > 0.05  # grey pixels (about a third of them) flip with probability 2p(1-p)
    np.testing.assert_array_equal(a, pipeline_images(digits, binarization="dynamic", shuffle=False, epoch=0))


def test_evaluation_splits_are_binarized_once_whatever_the_epoch(digits):
    a = pipeline_images(digits, split="test", binarization="dynamic", epoch=0)
    np.testing.assert_array_equal(a, pipeline_images(digits, split="test", binarization="dynamic", epoch=3))
    np.testing.assert_array_equal(a, digits.binarized("test"))


def test_the_mean_of_binarized_images_is_the_pixel_intensity(digits):
    x = digits.test.x
    draws = 400
    mean = np.mean([data.binarize(x, seed=0, epoch=e) for e in range(draws)], axis=0)
    standard_error = np.sqrt(x * (1 - x) / draws)
    # 6 standard errors per pixel: over ~2e4 pixels a correct sampler fails with probability ~4e-5;
    # black and white pixels (standard error 0) must come out exactly.
    assert np.all(np.abs(mean - x) <= 6 * standard_error + 1e-6)


def test_a_pipeline_depends_only_on_seed_and_epoch(digits):
    a = pipeline_images(digits, binarization="dynamic", seed=3, epoch=2, batch_size=64)
    np.testing.assert_array_equal(a, pipeline_images(digits, binarization="dynamic", seed=3, epoch=2, batch_size=64))
    other_epoch = pipeline_images(digits, binarization="none", seed=3, epoch=3, batch_size=64)
    same_epoch = pipeline_images(digits, binarization="none", seed=3, epoch=2, batch_size=64)
    assert not np.array_equal(other_epoch, same_epoch)  # a new order every epoch
    assert rows(other_epoch) == rows(digits.train.x)  # ... of the same images


def test_pipeline_batches_and_labels_line_up(digits):
    batches = list(digits.pipeline("validation", batch_size=100, labels=True))
    assert [len(x) for x, _ in batches][:-1] == [100] * (len(batches) - 1)
    x = np.concatenate([b[0].numpy() for b in batches])
    y = np.concatenate([b[1].numpy() for b in batches])
    np.testing.assert_array_equal(x, digits.validation.x)  # validation is not shuffled by default
    np.testing.assert_array_equal(y, digits.validation.y)



@pytest.mark.parametrize("drop_remainder", [False, True])
def test_the_training_order_is_tf_datas_shuffle_of_the_images(digits, drop_remainder):
    # The pipeline shuffles indices and batches in NumPy for speed; the minibatches must be the
    # ones that shuffling the images themselves with tf.data gives, so runs and reference runs
    # recorded before keep their losses.
    training.set_seed(0)
    x = data.binarize(digits.train.x, seed=4, epoch=1)
    expected = tf.data.Dataset.from_tensor_slices((x, digits.train.y)).shuffle(
        len(x), seed=data._mix(4, 1), reshuffle_each_iteration=False).batch(64, drop_remainder=drop_remainder)
    got = digits.pipeline("train", batch_size=64, binarization="dynamic", seed=4, epoch=1, labels=True,
                          drop_remainder=drop_remainder)
    expected, got = list(expected.as_numpy_iterator()), list(got.as_numpy_iterator())
    assert len(got) == len(expected) == (len(x) // 64 if drop_remainder else -(-len(x) // 64))
    for (ex, ey), (gx, gy) in zip(expected, got):
        np.testing.assert_array_equal(gx, ex)
        np.testing.assert_array_equal(gy, ey)

# --- IDX files ------------------------------------------------------------------------

def write_idx(path, array, *, ndim=None, body=None, compress=True):
    array = np.asarray(array, np.uint8)
    header = struct.pack(">HBB", 0, 0x08, ndim or array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    raw = header + (array.tobytes() if body is None else body)
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


@pytest.fixture()
def idx_folder(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"train": (rng.integers(0, 256, (12, 28, 28)), rng.integers(0, 10, 12)),
              "test": (rng.integers(0, 256, (6, 28, 28)), rng.integers(0, 10, 6))}
    for split, (images_file, labels_file) in data.IDX_FILES.items():
        write_idx(tmp_path / images_file, arrays[split][0])
        write_idx(tmp_path / labels_file, arrays[split][1])
    return tmp_path, arrays


def test_idx_reader_round_trips_a_file(tmp_path):
    array = np.random.default_rng(1).integers(0, 256, (3, 5, 4)).astype(np.uint8)
    np.testing.assert_array_equal(data.read_idx(write_idx(tmp_path / "a.gz", array), ndim=3), array)


def test_a_folder_of_idx_files_loads_as_a_dataset(idx_folder):
    folder, arrays = idx_folder
    ds = data.load("fashion_mnist", data_dir=folder)
    np.testing.assert_array_equal(ds.test.x, arrays["test"][0].astype(np.float32) / 255)
    np.testing.assert_array_equal(ds.test.y, arrays["test"][1])
    assert len(ds.train) + len(ds.validation) == 12
    assert str(folder) in ds.source and ds.substitute_for is None


@pytest.mark.parametrize("damage, problem", [
    ("not gzip", "is not a readable gzip file"),
    ("cut gzip", "is not a readable gzip file"),
    ("short", "is too short to be an IDX file"),
    ("header", "does not start with the IDX header of a 3-D unsigned-byte array"),
    ("truncated", r"declares shape \(12, 28, 28\) \(9408 bytes\) but holds 9000 bytes"),
])
def test_a_corrupt_idx_file_is_a_data_format_error_naming_the_file(idx_folder, damage, problem):
    folder, arrays = idx_folder
    path = folder / data.IDX_FILES["train"][0]
    images = arrays["train"][0]
    if damage == "not gzip":
        path.write_bytes(b"plain bytes, not gzip")
    elif damage == "cut gzip":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "short":
        path.write_bytes(gzip.compress(b"\x00\x00\x08"))
    elif damage == "header":
        write_idx(path, images, ndim=2)
    else:
        write_idx(path, images, body=np.asarray(images, np.uint8).tobytes()[:9000])
    with pytest.raises(DataFormatError, match=problem) as error:
        data.load("fashion_mnist", data_dir=folder)
    assert str(path) in str(error.value)


def test_image_and_label_counts_must_agree(idx_folder):
    folder, arrays = idx_folder
    write_idx(folder / data.IDX_FILES["test"][1], arrays["test"][1][:4])
    with pytest.raises(DataFormatError, match="has 6 images but .*t10k-labels-idx1-ubyte.gz has 4 labels"):
        data.load("fashion_mnist", data_dir=folder)


def test_a_data_dir_without_the_idx_files_names_the_missing_files(idx_folder):
    folder, _ = idx_folder
    (folder / data.IDX_FILES["test"][0]).unlink()
    with pytest.raises(DatasetUnavailableError, match="lacks the IDX files t10k-images-idx3-ubyte.gz"):
        data.load("fashion_mnist", data_dir=folder)


# --- offline ----------------------------------------------------------------------------

@pytest.fixture()
def offline(monkeypatch, tmp_path):
    """No network (Keras' downloads fail as a failed URL fetch does) and no local copies of either dataset."""
    def failed_fetch():
        raise Exception("URL fetch failure on https://storage.googleapis.com/tensorflow/tf-keras-datasets/x.npz: "
                        "None -- [Errno -3] Temporary failure in name resolution")
    monkeypatch.setattr(keras.datasets.mnist, "load_data", failed_fetch)
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", failed_fetch)
    monkeypatch.delenv(config.DATA_DIR_ENV, raising=False)
    monkeypatch.delenv(config.BOOK_FALLBACK_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))  # no `tfvae data fetch mnist` here
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", tmp_path / "not-installed")
    return monkeypatch


def test_mnist_offline_is_an_error_that_names_the_offline_choices(offline):
    with pytest.raises(DatasetUnavailableError) as error:
        data.load("mnist")
    message = str(error.value)
    assert "MNIST is not on this machine" in message and "URL fetch failure" in message
    assert "tfvae data fetch mnist" in message
    assert "'digits'" in message and "'fashion_mnist'" in message


def test_load_for_book_falls_back_to_local_fashion_mnist_and_says_so(offline, idx_folder):
    folder, _ = idx_folder
    offline.setattr(data, "DEBIAN_FASHION_MNIST", folder)
    ds = data.load_for_book("mnist")
    assert ds.name == "fashion_mnist" and ds.substitute_for == "mnist"
    assert "This page ran on Fashion-MNIST, not MNIST" in ds.notice()


def test_load_for_book_falls_back_to_digits_when_nothing_else_is_there(offline):
    ds = data.load_for_book("mnist", max_train=50)
    assert ds.name == "digits" and ds.substitute_for == "mnist" and len(ds.train) == 50
    assert "not MNIST" in ds.notice() and "not comparable" in ds.notice()
    assert data.load_for_book("fashion_mnist").substitute_for == "fashion_mnist"


def test_load_for_book_marks_nothing_when_the_preferred_data_loads(digits):
    ds = data.load_for_book("digits")
    assert ds.substitute_for is None
    assert ds.notice().startswith("Data: scikit-learn digits")


@pytest.mark.parametrize("start, expected", [("fashion_mnist", "fashion_mnist"), ("digits", "digits")])
def test_the_fallback_variable_starts_the_book_chain_at_a_substitute(monkeypatch, idx_folder, start, expected):
    folder, _ = idx_folder
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", folder)
    monkeypatch.setenv(config.BOOK_FALLBACK_ENV, start)
    ds = data.load_for_book("mnist")
    assert ds.name == expected and ds.substitute_for == "mnist"
    assert data.load_for_book("digits").substitute_for is None  # a chain that does not reach `start` is untouched


def test_an_unknown_fallback_name_is_refused(monkeypatch):
    monkeypatch.setenv(config.BOOK_FALLBACK_ENV, "cifar")
    with pytest.raises(InvalidInputError, match="unknown \\$TFVAE_BOOK_FALLBACK 'cifar'"):
        data.load_for_book("mnist")


def test_average_pooling_averages_blocks_and_flattens():
    images = np.arange(2 * 4 * 6, dtype=np.float32).reshape(2, 4, 6) / 48
    pooled = data.average_pooled(images, factor=2)
    assert pooled.shape == (2, 6)
    np.testing.assert_allclose(pooled[0, 0], images[0, :2, :2].mean())
    np.testing.assert_allclose(pooled[1, -1], images[1, 2:, 4:].mean())
    np.testing.assert_allclose(pooled.mean(axis=1), images.mean(axis=(1, 2)), rtol=1e-6)  # averages keep the mean


def test_images_that_do_not_tile_are_refused():
    with pytest.raises(InvalidInputError, match=r"cannot be pooled in 3 x 3 blocks"):
        data.average_pooled(np.zeros((1, 8, 8), np.float32), factor=3)


def test_linear_gaussian_pixels_pool_28x28_images_and_flatten_the_8x8_digits():
    mnist_like = np.random.default_rng(0).random((3, 28, 28)).astype(np.float32)
    np.testing.assert_array_equal(data.pooled_for_linear_gaussian(mnist_like), data.average_pooled(mnist_like, 2))
    digits_like = mnist_like[:, :8, :8]
    np.testing.assert_array_equal(data.pooled_for_linear_gaussian(digits_like), digits_like.reshape(3, 64))


@pytest.mark.parametrize("value, xla", [("1", False), ("", True)])
def test_chapters_compile_with_xla_in_the_full_build_only(value, xla, monkeypatch):
    monkeypatch.setenv(config.QUICK_ENV, value)
    assert config.use_xla() is xla
