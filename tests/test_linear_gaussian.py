"""Probabilistic PCA (tfvae.linear_gaussian): its closed forms agree with Bayes' rule, with
Monte Carlo and with each other, and the ELBO identities of the book hold to float64 precision."""

import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae.errors import InvalidInputError
from tfvae.linear_gaussian import LinearGaussian, fit_ppca

tfd = tfp.distributions

# Identities between float64 closed forms of sizes ~10 nats: round-off is ~1e-14; 1e-9 is
# far below any modelling error (a wrong term is off by O(0.1) nats or more).
EXACT = 1e-9


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(0)
    return LinearGaussian(rng.normal(size=(7, 3)), rng.normal(size=7), noise_variance=0.4)


@pytest.fixture(scope="module")
def x(model):
    return model.sample(25, seed=1).numpy()


def arbitrary_q(rng, n, d):
    """Random Gaussians q(z|x) = N(m, S) with full, positive definite covariances."""
    a = rng.normal(size=(n, d, d))
    return rng.normal(size=(n, d)), a @ np.swapaxes(a, 1, 2) + 0.1 * np.eye(d)


def test_everything_is_float64(model, x):
    assert model.log_evidence(x).dtype == tf.float64
    assert model.posterior(x).dtype == tf.float64
    assert model.sample(2, seed=0).dtype == tf.float64


def test_shapes_follow_the_docstrings(model, x):
    assert model.prior.event_shape == (3,)
    decoded = model.decode(np.zeros((4, 5, 3)))
    assert decoded.batch_shape == (4, 5) and decoded.event_shape == (7,)
    assert model.marginal().event_shape == (7,)
    assert model.log_evidence(x).shape == (25,)
    mean, covariance = model.posterior_parameters(x)
    assert mean.shape == (25, 3) and covariance.shape == (3, 3)
    assert model.posterior(x).batch_shape == (25,) and model.posterior(x).event_shape == (3,)
    assert model.sample(6, seed=0).shape == (6, 7)


def test_log_evidence_satisfies_bayes_rule_at_any_z(model, x):
    # log p(x) = log p(x|z) + log p(z) - log p(z|x) for every z: ties marginal, decode and posterior together.
    z = np.random.default_rng(2).normal(size=(4, 25, 3)) * 3
    bayes = model.decode(z).log_prob(x) + model.prior.log_prob(z) - model.posterior(x).log_prob(z)
    np.testing.assert_allclose(bayes.numpy(), np.broadcast_to(model.log_evidence(x).numpy(), (4, 25)),
                               rtol=0, atol=EXACT)


def test_posterior_equals_gaussian_conditioning_of_the_joint(model, x):
    # The joint of (z, x) is Gaussian with Cov(z, x) = W^T and Cov(x) = C = W W^T + sigma^2 I, so
    # E[z|x] = W^T C^{-1} (x - mu) and Cov[z|x] = I - W^T C^{-1} W: a different formula from M^{-1}.
    w, mu = model.weights.numpy(), model.offset.numpy()
    c = w @ w.T + model.noise_variance * np.eye(7)
    mean, covariance = model.posterior_parameters(x)
    np.testing.assert_allclose(mean.numpy(), np.linalg.solve(c, (x - mu).T).T @ w, rtol=0, atol=EXACT)
    np.testing.assert_allclose(covariance.numpy(), np.eye(3) - w.T @ np.linalg.solve(c, w), rtol=0, atol=EXACT)


def test_marginal_matches_the_moments_of_samples(model):
    draws = model.sample(200_000, seed=3).numpy()
    w = model.weights.numpy()
    # Standard errors of a mean and a covariance entry from 2e5 draws with variances ~O(5): ~0.005 and ~0.02.
    np.testing.assert_allclose(draws.mean(axis=0), model.offset.numpy(), atol=0.03)
    np.testing.assert_allclose(np.cov(draws.T), w @ w.T + model.noise_variance * np.eye(7), atol=0.1)
    np.testing.assert_allclose(model.marginal().covariance().numpy(), w @ w.T + model.noise_variance * np.eye(7),
                               rtol=0, atol=EXACT)


def test_elbo_never_exceeds_the_log_evidence(model, x):
    rng = np.random.default_rng(4)
    for _ in range(5):
        q_mean, q_cov = arbitrary_q(rng, 25, 3)
        assert np.all(model.exact_elbo(x, q_mean, q_cov).numpy() < model.log_evidence(x).numpy())


def test_elbo_equals_the_log_evidence_when_q_is_the_exact_posterior(model, x):
    mean, covariance = model.posterior_parameters(x)
    np.testing.assert_allclose(model.exact_elbo(x, mean, covariance).numpy(), model.log_evidence(x).numpy(),
                               rtol=0, atol=EXACT)


def test_elbo_equals_log_evidence_minus_posterior_kl(model, x):
    q_mean, q_cov = arbitrary_q(np.random.default_rng(5), 25, 3)
    q = tfd.MultivariateNormalTriL(q_mean, np.linalg.cholesky(q_cov))
    kl = tfd.kl_divergence(q, model.posterior(x)).numpy()
    assert np.all(kl > 0)
    np.testing.assert_allclose(model.exact_elbo(x, q_mean, q_cov).numpy() + kl, model.log_evidence(x).numpy(),
                               rtol=0, atol=EXACT)


def test_exact_elbo_accepts_one_covariance_shared_by_every_example(model, x):
    q_mean = np.random.default_rng(6).normal(size=(25, 3))
    shared = np.diag([0.5, 1.0, 2.0])
    np.testing.assert_allclose(model.exact_elbo(x, q_mean, shared).numpy(),
                               model.exact_elbo(x, q_mean, np.broadcast_to(shared, (25, 3, 3))).numpy(),
                               rtol=1e-14)


def test_exact_elbo_matches_a_monte_carlo_estimate(model, x):
    q_mean, q_cov = arbitrary_q(np.random.default_rng(7), 25, 3)
    q = tfd.MultivariateNormalTriL(q_mean, np.linalg.cholesky(q_cov))
    z = q.sample(20_000, seed=tf.constant([7, 7]))
    terms = (model.decode(z).log_prob(x) + model.prior.log_prob(z) - q.log_prob(z)).numpy()
    standard_error = terms.std(axis=0) / math.sqrt(len(terms))
    # 5 standard errors: P(fail) ~ 6e-7 per example for a correct closed form.
    np.testing.assert_array_less(np.abs(terms.mean(axis=0) - model.exact_elbo(x, q_mean, q_cov).numpy()),
                                 5 * standard_error)


def test_the_same_seed_gives_the_same_samples(model):
    np.testing.assert_array_equal(model.sample(5, seed=11), model.sample(5, seed=11))
    np.testing.assert_array_equal(model.sample(5, seed=tf.constant([1, 2])), model.sample(5, seed=tf.constant([1, 2])))
    assert np.all(model.sample(5, seed=11).numpy() != model.sample(5, seed=12).numpy())


def test_fit_ppca_recovers_the_generating_covariance(model):
    draws = model.sample(100_000, seed=8).numpy()
    fitted = fit_ppca(draws, latent_dim=3)
    w, fw = model.weights.numpy(), fitted.weights.numpy()
    # W is identifiable only up to a rotation of z, so compare W W^T; sampling error ~0.02 at n = 1e5.
    np.testing.assert_allclose(fw @ fw.T, w @ w.T, atol=0.1)
    assert abs(fitted.noise_variance - model.noise_variance) < 0.02
    np.testing.assert_allclose(fitted.offset.numpy(), draws.mean(axis=0), rtol=1e-12)


def test_fit_ppca_is_a_maximum_of_the_likelihood(model):
    draws = model.sample(2000, seed=9).numpy()
    fitted = fit_ppca(draws, latent_dim=2)
    best = fitted.log_evidence(draws).numpy().sum()
    rng = np.random.default_rng(9)
    w, mu, s2 = fitted.weights.numpy(), fitted.offset.numpy(), fitted.noise_variance
    for _ in range(5):
        # Small perturbations of each parameter (and the true generating model, with a larger
        # latent space, is not in this family) all give a lower likelihood.
        for other in (LinearGaussian(w + 0.01 * rng.normal(size=w.shape), mu, s2),
                      LinearGaussian(w, mu + 0.01 * rng.normal(size=mu.shape), s2),
                      LinearGaussian(w, mu, s2 * math.exp(0.05 * rng.normal()))):
            assert other.log_evidence(draws).numpy().sum() < best


def test_fit_ppca_noise_variance_is_the_mean_discarded_eigenvalue():
    rng = np.random.default_rng(10)
    x = rng.normal(size=(500, 5)) * np.array([3.0, 2.0, 1.0, 0.5, 0.25])
    eigenvalues = np.sort(np.linalg.eigvalsh(np.cov(x.T, bias=True)))[::-1]
    assert math.isclose(fit_ppca(x, 2).noise_variance, eigenvalues[2:].mean(), rel_tol=1e-10)


@pytest.mark.parametrize("args, message", [
    ((np.ones(3), np.zeros(3), 1.0), "(D, d) matrix"),
    ((np.ones((3, 2)), np.zeros(2), 1.0), "offset"),
    ((np.ones((3, 2)), np.zeros(3), 0.0), "noise_variance"),
    ((np.ones((3, 2)), np.zeros(3), float("nan")), "noise_variance"),
    ((np.full((3, 2), np.nan), np.zeros(3), 1.0), "NaN"),
])
def test_bad_parameters_are_rejected_by_name(args, message):
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        LinearGaussian(*args)


def test_bad_data_and_bad_q_are_rejected_by_name(model):
    with pytest.raises(InvalidInputError, match=r"x has shape \(4, 6\); expected \(n, 7\)"):
        model.log_evidence(np.zeros((4, 6)))
    with pytest.raises(InvalidInputError, match="x contains 1 NaN"):
        model.posterior(np.array([[np.nan] + [0.0] * 6]))
    with pytest.raises(InvalidInputError, match="q_cov must be a symmetric positive definite"):
        model.exact_elbo(np.zeros((2, 7)), np.zeros((2, 3)), -np.eye(3))
    with pytest.raises(InvalidInputError, match="q_mean has shape"):
        model.exact_elbo(np.zeros((2, 7)), np.zeros((3, 3)), np.eye(3))
    with pytest.raises(InvalidInputError, match="latent_dim must be smaller"):
        fit_ppca(np.zeros((10, 3)), 3)
    with pytest.raises(InvalidInputError, match="n must be >= 1"):
        model.sample(0)
