"""Specifications of tfvae.estimators: both gradient estimators are unbiased, the
reparameterization one has the lower variance on a smooth f, and the naive evidence
estimate agrees with the exact log p(x) of a small linear-Gaussian model."""

import numpy as np
import pytest
import tensorflow as tf

from tfvae import estimators
from tfvae.errors import InvalidInputError
from tfvae.linear_gaussian import LinearGaussian

MEAN = np.array([0.5, -1.0, 2.0], np.float32)
LOG_STD = np.array([0.0, -0.5, 0.3], np.float32)
SEED = tf.constant([1, 2], tf.int32)


def quadratic(z):
    return tf.reduce_sum(tf.square(z), axis=-1)


def exact_quadratic_gradient():
    # E[sum z^2] = sum(mean^2 + sigma^2): d/dmean = 2 mean, d/dlog_std = 2 sigma^2.
    return 2 * MEAN, 2 * np.exp(2 * LOG_STD)


@pytest.mark.parametrize("estimator", [estimators.score_function_gradient, estimators.reparameterization_gradient])
def test_gradient_estimators_are_unbiased(estimator):
    est = estimator(quadratic, MEAN, LOG_STD, n_samples=10, n_estimates=4000, seed=SEED)
    for field, exact in zip(est, exact_quadratic_gradient()):
        values = field.numpy()
        assert values.shape == (4000, 3)
        standard_error = values.std(axis=0) / np.sqrt(len(values))
        # Five standard errors: a correct estimator fails this with probability ~1e-6 per entry.
        np.testing.assert_array_less(np.abs(values.mean(axis=0) - exact), 5 * standard_error + 1e-6)


def test_reparameterization_has_lower_variance_than_score_function():
    kwargs = dict(n_samples=5, n_estimates=2000, seed=SEED)
    score = estimators.score_function_gradient(quadratic, MEAN, LOG_STD, **kwargs)
    reparam = estimators.reparameterization_gradient(quadratic, MEAN, LOG_STD, **kwargs)
    # For a quadratic f the reparameterization variance is smaller in every coordinate, by a
    # factor of several; a factor of 2 leaves room for the sampling error of the variances.
    assert np.all(2 * reparam.mean.numpy().var(axis=0) < score.mean.numpy().var(axis=0))
    assert np.all(2 * reparam.log_std.numpy().var(axis=0) < score.log_std.numpy().var(axis=0))


def test_estimators_reject_mismatched_parameters():
    with pytest.raises(InvalidInputError, match="same length"):
        estimators.reparameterization_gradient(quadratic, MEAN, LOG_STD[:2], n_samples=1)
    with pytest.raises(InvalidInputError, match="n_samples"):
        estimators.score_function_gradient(quadratic, MEAN, LOG_STD, n_samples=0)


def test_naive_log_evidence_converges_to_exact_in_low_dimension():
    rng = np.random.default_rng(0)
    model = LinearGaussian(rng.normal(size=(3, 1)), np.zeros(3), 0.5)
    x = model.sample(5, seed=0).numpy()
    estimate = estimators.naive_log_evidence(x, model.decode, model.prior, n_samples=200_000, seed=SEED).numpy()
    # In 3 dimensions with 2e5 prior samples the relative error of p(x) is well under 1%,
    # so log p(x) is within 0.02 nats.
    np.testing.assert_allclose(estimate, model.log_evidence(x).numpy(), atol=0.02)


@pytest.mark.parametrize("estimator", [estimators.score_function_gradient, estimators.reparameterization_gradient])
def test_an_integrand_that_depends_on_q_gets_the_general_gradient(estimator):
    # f(z, q) = -log q(z): E_q[f] is q's entropy, sum_j log s_j + const, whose exact gradient is 0 for the mean
    # and 1 for every log standard deviation ({eq}`eq-score-function-general`, with a non-zero second term). The
    # pathwise estimate of it is exact sample by sample (std 0), hence the small absolute slack.
    mean, log_std = np.array([0.3, -1.0, 2.0], np.float32), np.array([0.2, -0.5, 0.0], np.float32)
    est = estimator(lambda z, q: -tf.reduce_sum(q.log_prob(z), axis=-1), mean, log_std, n_samples=10,
                    n_estimates=2000, seed=tf.constant([4, 2]), f_uses_q=True)
    for values, exact in [(est.mean.numpy(), 0.0), (est.log_std.numpy(), 1.0)]:
        se = values.std(axis=0) / np.sqrt(len(values))
        assert np.all(np.abs(values.mean(axis=0) - exact) < 5 * se + 1e-5)

