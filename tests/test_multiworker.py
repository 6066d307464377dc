"""Two workers on 127.0.0.1 train one model with MultiWorkerMirroredStrategy, the way a user would.

Each worker is a `python -m tfvae.cli train --strategy multiworker` process with its own
TF_CONFIG; tests/multiworker_runs.py is the same training under `tfvae.training.fit` with
each replica's minibatches recorded, which the command line cannot show. Every process
runs in its own process group and is killed in a `finally`, so a failing test leaves
nothing running. Each launch pays TensorFlow's import (~8 s) and the workers' handshake.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tfvae import serialization

RUNS = Path(__file__).with_name("multiworker_runs.py")
EPOCHS = 4
# conftest.CLI_TRAIN's tiny model, for fewer epochs.
TRAIN = ["train", "--dataset", "digits", "--binarization", "dynamic", "--hidden-units", "32", "--latent-dim", "4",
         "--batch-size", "100", "--seed", "3", "--no-xla", "--quiet", "--epochs", str(EPOCHS)]
# Longest a launch of two workers may take: the import, the handshake, four epochs of
# ~2 s, and saving. A hung collective fails the test after this instead of hanging it.
LAUNCH_SECONDS = 240


def free_addresses(n):
    """`n` distinct 127.0.0.1:port addresses nobody listens on (yet)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]
    finally:
        for s in sockets:
            s.close()


def start_workers(commands, logs, tmpdir):
    """Start one process per command, worker i with TF_CONFIG task index i; returns the Popen objects."""
    addresses = free_addresses(len(commands))
    processes = []
    for index, (command, log) in enumerate(zip(commands, logs)):
        tf_config = {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}}
        env = dict(os.environ, TF_CONFIG=json.dumps(tf_config), TF_CPP_MIN_LOG_LEVEL="3", TFVAE_NO_PROGRESS="1",
                   TMPDIR=str(tmpdir))
        with open(log, "w") as output:
            processes.append(subprocess.Popen([sys.executable, *map(str, command)], env=env, stdout=output,
                                              stderr=subprocess.STDOUT, start_new_session=True))
    return processes


def stop(processes):
    """SIGKILL the process group of every process still running, and reap them all."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def finish(processes, logs, timeout=LAUNCH_SECONDS):
    """Wait for all processes; fail (and kill the rest) if one fails or they outlast `timeout`."""
    give_up = time.monotonic() + timeout
    try:
        for process, log in zip(processes, logs):
            try:
                code = process.wait(timeout=max(1.0, give_up - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise AssertionError(f"a worker ran past {timeout} s: {Path(log).read_text()[-2000:]}") from None
            assert code == 0, f"a worker exited {code}: {Path(log).read_text()[-3000:]}"
    finally:
        stop(processes)


def cli(*args):
    return ["-m", "tfvae.cli", *args]


def weights(folder):
    return [v.numpy() for v in serialization.load(folder).trainable_variables]


def image_multiset(images):
    """The binary images of a minibatch as a sorted list of byte strings, blind to their order."""
    return sorted(map(bytes, images.reshape(len(images), -1).astype(np.uint8)))


def history(run):
    latest = serialization.latest_checkpoint(run / serialization.CHECKPOINTS_DIR)
    return json.loads((latest / "state.json").read_text())["history"]


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    """An uninterrupted two-worker CLI run. Worker 1 is given its own --out, to show it writes nothing there."""
    root = tmp_path_factory.mktemp("two_workers")
    (root / "tmp").mkdir()
    chief, other = root / "run", root / "other"
    logs = [root / "worker0.log", root / "worker1.log"]
    commands = [cli(*TRAIN, "--strategy", "multiworker", "--out", out) for out in (chief, other)]
    finish(start_workers(commands, logs, root / "tmp"), logs)
    return {"chief": chief, "other": other, "tmp": root / "tmp"}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """The minibatches and final weights each worker of a two-worker `fit` saw (tests/multiworker_runs.py)."""
    root = tmp_path_factory.mktemp("recorded")
    outs, logs = [root / f"worker{i}.npz" for i in range(2)], [root / f"worker{i}.log" for i in range(2)]
    finish(start_workers([[RUNS, out] for out in outs], logs, root), logs)
    return [dict(np.load(out)) for out in outs]


def test_both_workers_end_with_identical_weights(recorded):
    first, second = ([v for k, v in sorted(r.items()) if k.startswith("weight")] for r in recorded)
    assert len(first) == len(second) > 0
    for a, b in zip(first, second):
        # The all-reduce hands both workers the same summed gradient, and both apply it to
        # the same weights with the same optimizer code: the results are bit for bit equal.
        np.testing.assert_array_equal(a, b)


def test_each_worker_reads_its_own_half_of_every_minibatch(recorded):
    from tfvae import data, training

    sys.path.insert(0, str(RUNS.parent))
    import multiworker_runs

    seed, epochs = multiworker_runs.SETTINGS["seed"], multiworker_runs.EPOCHS
    # tf.data's shuffle combines its seed with TF's global one, which fit's callers set.
    training.set_seed(seed)
    digits = data.load("digits", seed=seed)
    whole = [x.numpy() for epoch in range(epochs)
             for x in digits.pipeline("train", batch_size=100, binarization="dynamic", seed=seed, epoch=epoch)]
    halves = [[v for k, v in sorted(r.items()) if k.startswith("batch")] for r in recorded]
    assert len(halves[0]) == len(halves[1]) == len(whole)
    for step, (batch, mine, theirs) in enumerate(zip(whole, *halves)):
        # Together the two replicas' slices are the single-process minibatch, each image once;
        # each worker holds about half of it (a 49-image last batch splits 25 + 24).
        assert abs(len(mine) - len(theirs)) <= 1 and len(mine) + len(theirs) == len(batch), step
        assert image_multiset(np.concatenate([mine, theirs])) == image_multiset(batch), step


def test_only_the_chief_writes_the_run_folder(two_workers):
    chief = two_workers["chief"]
    assert (chief / "run.json").exists() and (chief / "model").exists()
    assert serialization.latest_checkpoint(chief / serialization.CHECKPOINTS_DIR).name == f"epoch-{EPOCHS:05d}"
    assert not two_workers["other"].exists(), "worker 1 wrote to its --out folder"
    # Worker 1 wrote its copies of the checkpoints to a temporary folder, and removed it.
    assert list(two_workers["tmp"].iterdir()) == []


def test_two_worker_losses_follow_the_single_process_run(two_workers, run_cli, tmp_path):
    single = tmp_path / "single"
    run_cli(*TRAIN, "--strategy", "default", "--out", single)
    two, one = history(two_workers["chief"])["loss"], history(single)["loss"]
    assert len(two) == len(one) == EPOCHS
    # Both runs see the same minibatches in the same order from the same initial weights;
    # what differs is the reparameterization noise of half of each batch (replica 1 seeds
    # its draws with its own id), so the runs are two draws of the same stochastic
    # optimization. The loss is a mean over 1,249 images of one-sample estimates whose
    # spread across draws is ~1 nat per image, so an epoch's mean moves by ~1/sqrt(1249),
    # about 0.03 nats; 0.5 nats (about 1% of the loss) leaves room for the trajectories
    # to drift apart over four epochs, yet a worker that skipped the all-reduce (half the
    # data) or a gradient scaled by the replica count twice would change the step size by
    # a factor of two and move the loss by more than that within these epochs.
    np.testing.assert_allclose(two, one, atol=0.5)


def test_a_lost_worker_stops_its_peer_and_both_resume_to_the_uninterrupted_weights(two_workers, tmp_path):
    out = tmp_path / "run"
    (tmp_path / "tmp").mkdir()
    command = cli(*TRAIN, "--strategy", "multiworker", "--out", out)
    logs = [tmp_path / "worker0.log", tmp_path / "worker1.log"]
    latest = out / serialization.CHECKPOINTS_DIR / serialization.LATEST_FILE
    processes = start_workers([command, command], logs, tmp_path / "tmp")
    try:
        give_up = time.monotonic() + LAUNCH_SECONDS
        while not latest.exists():
            assert all(p.poll() is None for p in processes), f"a worker ended early: {logs[0].read_text()[-2000:]}"
            assert time.monotonic() < give_up, "no checkpoint appeared"
            time.sleep(0.005)
        time.sleep(1.0)  # into epoch 2 (an epoch takes ~2 s with two workers here)
        os.killpg(processes[1].pid, signal.SIGKILL)
        killed = time.monotonic()
        # The survivor's next all-reduce fails: gRPC sees the closed connection at once, and
        # distribute.COLLECTIVE_TIMEOUT_SECONDS bounds the wait when it cannot.
        code = processes[0].wait(timeout=90)
        stopped_after = time.monotonic() - killed
    finally:
        stop(processes)
    message = logs[0].read_text().strip().splitlines()[-1]
    assert code == 2 and message.startswith("tfvae: error: a peer worker was lost"), logs[0].read_text()[-3000:]
    assert stopped_after < 90
    assert not (out / "model").exists(), "the run finished before the worker was killed"

    resumed = [tmp_path / "resumed0.log", tmp_path / "resumed1.log"]
    finish(start_workers([command + ["--resume"]] * 2, resumed, tmp_path / "tmp"), resumed)
    for a, b in zip(weights(out), weights(two_workers["chief"])):
        # Data order, binarization and noise depend only on (seed, epoch, step), and both
        # workers restart from the chief's last checkpoint: the resumed run repeats the
        # uninterrupted one exactly.
        np.testing.assert_array_equal(a, b)
