"""Mixed precision: float16 compute, float32 weights, distributions and ELBO.

The run is in its own process (tests/strategy_runs.py "mixed"), so the global Keras dtype
policy it sets cannot leak into other tests even if it fails half-way.
"""

import math

import pytest

from test_distribute import run_scenario


@pytest.fixture(scope="module")
def mixed():
    return run_scenario("mixed")


def test_mixed_precision_computes_in_float16_and_keeps_float32_weights(mixed):
    assert mixed["policy"] == "mixed_float16" and mixed["compute_dtype"] == "float16"
    assert mixed["variable_dtypes"] == ["float32"]
    assert mixed["optimizer"] == "LossScaleOptimizer"  # float16 gradients need loss scaling


def test_mixed_precision_distributions_are_float32(mixed):
    assert (mixed["q_dtype"], mixed["p_dtype"], mixed["elbo_dtype"]) == ("float32", "float32", "float32")


def test_mixed_precision_training_gives_a_finite_loss(mixed):
    assert mixed["elbo_finite"]
    assert all(math.isfinite(v) for v in mixed["losses"] + mixed["val_elbo"])


def test_mixed_precision_policy_is_reset_afterwards(mixed):
    assert mixed["policy_after_reset"] == "float32"
