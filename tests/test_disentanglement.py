"""The mutual information gap: 1 for the factors themselves, low for mixed or unrelated codes."""

import numpy as np
import pytest

from tfvae import shapes
from tfvae.metrics import disentanglement
from tfvae.errors import InvalidInputError


@pytest.fixture(scope="module")
def factors():
    # The shapes generator's factor indices: 3, 6, 6, 16 and 16 values.
    return shapes.sample_factors(5000, seed=0)


def test_mig_is_one_for_the_factors_in_any_order_sign_and_scale(factors):
    rng = np.random.default_rng(0)
    order = rng.permutation(5)
    codes = factors[:, order] * rng.uniform(0.5, 3.0, 5) * rng.choice([-1, 1], 5) + rng.normal(size=5)
    # Every factor has <= 16 values and the bins are 20 equal-width ones, so binning loses nothing
    # and the second-best dimension carries only the plug-in estimator's bias (about 1e-3 nats).
    assert disentanglement.mutual_information_gap(codes, factors) > 0.99


def test_mig_is_low_for_a_random_rotation_of_the_factors(factors):
    rng = np.random.default_rng(1)
    standardized = (factors - factors.mean(0)) / factors.std(0)
    rotation, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    mixed = standardized @ rotation
    mig = disentanglement.mutual_information_gap(mixed, factors)
    # Each dimension now holds a blend of all factors; no one dimension stands out for a factor.
    assert mig < 0.3
    assert mig < disentanglement.mutual_information_gap(standardized, factors) - 0.5


def test_mig_is_near_zero_for_codes_unrelated_to_the_factors(factors):
    noise = np.random.default_rng(2).normal(size=(5000, 10))
    # Independent codes: all MI values are estimator bias, about (bins-1)(values-1)/(2n) <= 0.03 nats.
    assert disentanglement.mutual_information_gap(noise, factors) < 0.05


def test_extra_unused_dimensions_do_not_change_mig(factors):
    codes = np.concatenate([factors.astype(float), np.zeros((5000, 3))], axis=1)
    assert disentanglement.mutual_information_gap(codes, factors) > 0.99


def test_one_factor_spread_over_two_dimensions_scores_zero_for_it(factors):
    codes = np.stack([factors[:, 3], factors[:, 3], factors[:, 4]], axis=1).astype(float)
    _, gaps = disentanglement.mutual_information_gap(codes, factors[:, 3:], per_factor=True)
    assert gaps[0] == pytest.approx(0.0, abs=1e-9)  # x is in two dimensions equally: no gap
    assert gaps[1] > 0.99


def test_captured_information_sees_a_factor_held_in_two_dimensions_where_mig_does_not(factors):
    codes = np.stack([factors[:, 3], factors[:, 3], np.random.default_rng(3).normal(size=5000)], axis=1)
    captured = disentanglement.captured_information(codes, factors)
    assert captured[3] > 0.99                  # x is known exactly (twice over)
    assert np.all(np.delete(captured, 3) < 0.05)  # shape, scale, rotation, y: only estimator bias
    _, gaps = disentanglement.mutual_information_gap(codes, factors, per_factor=True)
    assert gaps[3] < 1e-9                      # ... while its MIG gap is 0


def test_mutual_information_of_a_factor_with_itself_is_its_entropy(factors):
    mi = disentanglement.mutual_information_matrix(factors.astype(float), factors)
    assert np.allclose(np.diag(mi), disentanglement.factor_entropies(factors), atol=1e-9)
    assert disentanglement.factor_entropies(factors)[0] == pytest.approx(np.log(3), abs=0.01)


def test_bad_inputs_are_rejected(factors):
    with pytest.raises(InvalidInputError, match="integer"):
        disentanglement.mutual_information_gap(np.zeros((10, 2)), np.zeros((10, 1)))
    with pytest.raises(InvalidInputError, match="constant"):
        disentanglement.mutual_information_gap(np.random.default_rng(0).normal(size=(10, 2)),
                                               np.zeros((10, 1), int))
    with pytest.raises(InvalidInputError, match="at least 2"):
        disentanglement.mutual_information_gap(np.zeros((10, 1)), factors[:10])
