"""Fixtures shared by the unit tests: one small training run of the command line, made once.

Every subprocess pays TensorFlow's import (~8 s), so the run that test_cli.py evaluates and
samples from is the same uninterrupted run that test_training.py compares a killed and
resumed run with. Models are tiny (32 hidden units, 4 latent dimensions, 8x8 digits) and
compiled without XLA, whose compilation costs more than these runs' training.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

CLI_TRAIN = ["train", "--dataset", "digits", "--binarization", "dynamic", "--hidden-units", "32",
             "--latent-dim", "4", "--batch-size", "100", "--seed", "3", "--no-xla", "--quiet"]
# Enough epochs that a run killed right after its first checkpoint is still mid-training
# (an epoch of digits takes ~0.1 s here, so the run has seconds left to go).
CLI_EPOCHS = 40


def _run_cli(*args, timeout=300, check=True):
    """Run `python -m tfvae.cli ARGS` and return the CompletedProcess (text output)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TFVAE_NO_PROGRESS="1")
    result = subprocess.run([sys.executable, "-m", "tfvae.cli", *map(str, args)], capture_output=True, text=True,
                            timeout=timeout, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"tfvae {' '.join(map(str, args))} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="session")
def cli_run(tmp_path_factory):
    """The folder of an uninterrupted `tfvae train` run on digits (CLI_TRAIN, CLI_EPOCHS epochs)."""
    out = tmp_path_factory.mktemp("cli") / "run"
    _run_cli(*cli_train_args(), "--out", out)
    return out


def cli_train_args():
    return CLI_TRAIN + ["--epochs", str(CLI_EPOCHS)]


@pytest.fixture(scope="session")
def run_cli():
    """A function: run_cli(*args, check=True) runs `python -m tfvae.cli ARGS` and returns the CompletedProcess."""
    return _run_cli


@pytest.fixture(scope="session")
def cli_train():
    """The arguments of the `cli_run` training run, without --out (tests add their own)."""
    return cli_train_args()


def _train_until_first_checkpoint(*args, out, timeout=300):
    """Start `python -m tfvae.cli ARGS --out OUT` (a train command) and SIGKILL it as soon as its
    first checkpoint is complete, as a crash would. Returns that checkpoint's folder.

    A run that ends before its first checkpoint, or shows none within `timeout` seconds, fails the test
    instead of hanging it.
    """
    from tfvae import serialization

    out = Path(out)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TFVAE_NO_PROGRESS="1")
    log = out.with_name(f"{out.name}.stderr.txt")
    latest = out / serialization.CHECKPOINTS_DIR / serialization.LATEST_FILE
    with open(log, "w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "tfvae.cli", *map(str, args), "--out", str(out)],
                                   env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    give_up = time.monotonic() + timeout
    try:
        while not latest.exists():
            assert process.poll() is None, f"the run ended before its first checkpoint: {log.read_text()[-2000:]}"
            assert time.monotonic() < give_up, "no checkpoint appeared"
            time.sleep(0.005)
    finally:
        process.kill()
        process.wait()
    return serialization.latest_checkpoint(out / serialization.CHECKPOINTS_DIR)


@pytest.fixture(scope="session")
def train_until_first_checkpoint():
    """A function: train_until_first_checkpoint(*args, out=DIR) runs `tfvae ARGS --out DIR` until its first
    checkpoint, kills it, and returns the checkpoint's folder."""
    return _train_until_first_checkpoint
