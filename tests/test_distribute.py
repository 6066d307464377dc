"""Training under tf.distribute: the per-replica loss scaling, the fallbacks, multi-worker set-up.

Each scenario runs in its own process (tests/strategy_runs.py), because splitting the CPU
into logical devices must happen before TensorFlow initializes.

Float tolerance: one SGD step (learning rate 0.1) moves the weights by ~0.1; the two sides
of each comparison add the same float32 numbers in a different order (two half-batch
gradients summed vs one whole-batch gradient), which changes a weight by at most a few
units of float32 rounding (~1e-7 relative), so 1e-5 is far below any real difference: a
missing or doubled loss scaling would be off by half a step, ~0.05.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RUNS = Path(__file__).with_name("strategy_runs.py")
ROUNDING = 1e-5


def run_scenario(name: str) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TFVAE_NO_PROGRESS="1")
    env.pop("TF_CONFIG", None)
    result = subprocess.run([sys.executable, str(RUNS), name], capture_output=True, text=True, timeout=600, env=env)
    if result.returncode != 0:
        raise AssertionError(f"strategy_runs.py {name} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def mirrored():
    return run_scenario("mirrored")


def test_mirrored_strategy_trains_on_two_replicas(mirrored):
    assert mirrored["replicas"] == 2
    assert mirrored["describe"] == "MirroredStrategy on 2 replica(s): /CPU:0, /CPU:1"


def test_two_replica_step_equals_whole_batch_step_for_an_autoencoder(mirrored):
    assert mirrored["autoencoder_same_start"] == 0.0
    assert mirrored["autoencoder_step"] > 1000 * ROUNDING  # the step is large enough to tell a scaling error
    assert mirrored["autoencoder_difference"] < ROUNDING


def test_two_replica_vae_step_equals_the_sum_of_half_batch_gradients_with_replica_seeds(mirrored):
    assert mirrored["vae_step"] > 1000 * ROUNDING
    assert mirrored["vae_difference"] < ROUNDING
    assert mirrored["vae_seed_counter"] == 1  # one step advances the shared counter once, not once per replica


def test_mirrored_training_falls_back_from_xla_and_says_so(mirrored):
    assert any("cannot use XLA" in line for line in mirrored["log"]), mirrored["log"]


def test_mirrored_training_decreases_the_loss(mirrored):
    losses, val_elbo = mirrored["losses"], mirrored["val_elbo"]
    assert losses[-1] < losses[0] and val_elbo[-1] > val_elbo[0], (losses, val_elbo)


def test_mirrored_strategy_on_one_device_trains_too():
    # A one-replica MirroredStrategy (a machine with one GPU, --strategy mirrored) once failed
    # at the first step because XLA and multi-step calls were kept for a single replica.
    run = run_scenario("mirrored_one_device")
    assert run["replicas"] == 1
    assert run["losses"][1] < run["losses"][0], run["losses"]


def test_multiworker_strategy_from_tf_config_trains_one_epoch():
    run = run_scenario("multiworker")
    assert run["strategy"] == "CollectiveAllReduceStrategy"  # what MultiWorkerMirroredStrategy builds
    assert run["replicas"] == 1 and len(run["losses"]) == 1
    assert 0 < run["losses"][0] < 1e3  # finite and a plausible negative ELBO for 64 binary pixels
