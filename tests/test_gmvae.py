"""The Gaussian-mixture VAE: its ELBO sums over the cluster exactly, it trains, it saves and loads."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import data, models, serialization, training
from tfvae.models import gmvae
from tfvae.errors import InvalidInputError

tfd = tfp.distributions
K, D = 4, 3


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


@pytest.fixture(scope="module")
def model():
    training.set_seed(0)
    return models.build(kind="gmvae", image_shape=(8, 8), latent_dim=D, hidden_units=32,
                        analytic_kl=False, extra={"components": K})


def _batch(ds, n=16):
    return ds.binarized("train", seed=0)[:n]


def test_elbo_equals_an_explicit_sum_over_clusters(model, digits):
    """{eq}`eq-gmvae-elbo` term by term: log p(x|z_y) + log p(z_y|y) - log q(z_y|x,y) + log p(y) - log q(y|x)."""
    x = _batch(digits)
    seed = tf.constant([3, 4], tf.int32)
    got = model.elbo(x, n_samples=1, seed=seed).elbo.numpy()

    logits, mean, log_var = (t.numpy() for t in model.posterior_parameters(x))
    eps = tf.random.stateless_normal((1,) + mean.shape, seed=seed).numpy()[0]  # the same noise the model draws
    log_q_y = tf.nn.log_softmax(logits).numpy()
    expected = np.zeros(len(x))
    for y in range(K):
        z = mean[:, y] + np.exp(0.5 * log_var[:, y]) * eps[:, y]
        log_px = model.decode(z).log_prob(x).numpy()
        log_pz = tfd.MultivariateNormalDiag(model.prior_means[y], tf.exp(0.5 * model.prior_log_variances[y])).log_prob(z).numpy()
        log_qz = tfd.MultivariateNormalDiag(mean[:, y], np.exp(0.5 * log_var[:, y])).log_prob(z).numpy()
        expected += np.exp(log_q_y[:, y]) * (log_px + log_pz - log_qz + np.log(1 / K) - log_q_y[:, y])
    # float32 sums of terms of size ~50 nats: agreement to 1e-4 relative is rounding, not a difference.
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)


def test_elbo_equals_a_monte_carlo_average_over_sampled_clusters(model, digits):
    """Sampling y ~ q(y|x) and averaging the per-y terms converges to the exact sum."""
    x = _batch(digits, 4)
    seed = tf.constant([5, 6], tf.int32)
    log_q_y, reconstruction, kl_z = (t.numpy() for t in model.component_terms(x, n_samples=1, seed=seed))
    exact = model.elbo(x, n_samples=1, seed=seed).elbo.numpy()
    per_y = reconstruction - kl_z + np.log(1 / K) - log_q_y  # (n, K): the bracket of {eq}`eq-gmvae-elbo`
    rng = np.random.default_rng(0)
    n_draws = 20000
    for i in range(len(x)):
        ys = rng.choice(K, size=n_draws, p=np.exp(log_q_y[i]) / np.exp(log_q_y[i]).sum())
        draws = per_y[i, ys]
        # 5 standard errors: a false failure has probability below 1e-6 per example.
        assert abs(draws.mean() - exact[i]) < 5 * draws.std() / np.sqrt(n_draws) + 1e-3


def test_analytic_and_sampled_kl_agree_on_average(digits):
    """The closed-form KL(q(z|x,y) || p(z|y)) is the expectation of the one-sample estimate."""
    training.set_seed(1)
    analytic = models.build(kind="gmvae", image_shape=(8, 8), latent_dim=D, hidden_units=32,
                            extra={"components": K})
    sampled = models.build(analytic.config, analytic_kl=False)
    sampled.set_weights(analytic.get_weights())
    x = _batch(digits, 8)
    _, _, kl_exact = analytic.component_terms(x, n_samples=1, seed=tf.constant([0, 0]))
    _, _, kl_mc = sampled.component_terms(x, n_samples=4000, seed=tf.constant([0, 1]))
    # The estimate's standard deviation per sample is ~sqrt(d/2) nats, so 4000 samples: ~0.02.
    np.testing.assert_allclose(kl_mc.numpy(), kl_exact.numpy(), atol=0.15)


def test_marginals_are_mixtures_with_the_right_shapes(model, digits):
    x = _batch(digits, 5)
    q = model.encode(x)
    assert q.batch_shape == (5,) and q.event_shape == (D,)
    assert model.prior.event_shape == (D,)
    assert model.cluster_posterior(x).probs_parameter().shape == (5, K)
    assert model.cluster(x).shape == (5,)
    assert model.sample_cluster(2, 3).shape == (3, 8, 8)
    assert model.sample(3).shape == (3, 8, 8)
    assert model.cluster_means().shape == (K, D)
    np.testing.assert_allclose(tf.reduce_sum(model.cluster_posterior(x).probs_parameter(), -1), 1.0, rtol=1e-5)


def test_training_lowers_the_loss_and_keeps_it_finite(digits):
    training.set_seed(0)
    model = models.build(kind="gmvae", image_shape=(8, 8), latent_dim=D, hidden_units=64, extra={"components": K})
    history = training.fit(model, digits, epochs=8, binarization="static", verbose=0)
    assert np.all(np.isfinite(history["loss"]))
    # 8 epochs on digits: the ELBO moves by tens of nats, far beyond epoch-to-epoch noise.
    assert history["loss"][-1] < history["loss"][0] - 5


def test_save_and_load_give_the_same_model(model, digits, tmp_path):
    serialization.save(model, tmp_path / "gm")
    loaded = serialization.load(tmp_path / "gm")
    assert isinstance(loaded, gmvae.GMVAE) and loaded.components == K
    x = _batch(digits, 8)
    seed = tf.constant([1, 2])
    np.testing.assert_allclose(loaded.elbo(x, seed=seed).elbo, model.elbo(x, seed=seed).elbo, rtol=1e-6)
    np.testing.assert_array_equal(loaded.cluster_means(), model.cluster_means())


def test_too_few_components_is_an_error():
    with pytest.raises(InvalidInputError, match="components"):
        models.build(kind="gmvae", image_shape=(8, 8), latent_dim=2, hidden_units=8, extra={"components": 1})


def test_marginal_cluster_kl_drops_exactly_the_mutual_information(digits):
    """loss_exact - loss_marginal = mean_x KL(q(y|x) || q(y)) = I_q(x; y) on the batch, which is >= 0."""
    training.set_seed(2)
    exact = models.build(kind="gmvae", image_shape=(8, 8), latent_dim=D, hidden_units=32, extra={"components": K})
    marginal = models.build(exact.config, extra={"components": K, "cluster_kl": "marginal"})
    marginal.set_weights(exact.get_weights())
    x = _batch(digits, 32)
    seed = tf.constant([7, 7])
    gap = float(exact.loss_terms(x, seed=seed)["loss"] - marginal.loss_terms(x, seed=seed)["loss"])
    q = exact.cluster_posterior(x).probs_parameter().numpy()
    q_bar = q.mean(axis=0)
    mutual_information = float(np.mean(np.sum(q * (np.log(q) - np.log(q_bar)), axis=1)))
    assert mutual_information >= 0
    # Both losses are float32 means of ~50-nat terms; 1e-3 nats is rounding.
    assert gap == pytest.approx(mutual_information, abs=1e-3)
    # The reported ELBO does not depend on the training option.
    np.testing.assert_allclose(marginal.loss_terms(x, seed=seed)["elbo"], exact.loss_terms(x, seed=seed)["elbo"], rtol=1e-6)


def test_unknown_cluster_kl_is_an_error():
    with pytest.raises(InvalidInputError, match="cluster_kl"):
        models.build(kind="gmvae", image_shape=(8, 8), latent_dim=2, hidden_units=8,
                     extra={"components": 2, "cluster_kl": "sometimes"})


def test_a_saved_gmvae_loads_in_a_fresh_process_without_importing_its_module(model, tmp_path):
    import subprocess
    import sys

    serialization.save(model, tmp_path / "gm")
    code = ("import sys; from tfvae import serialization; "
            "m = serialization.load(sys.argv[1]); print(type(m).__name__, m.components)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "gm")], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-2:] == ["GMVAE", str(K)]


@pytest.mark.parametrize("objective", ["iwae", "wake_sleep"])
def test_an_objective_of_the_plain_vae_is_refused_rather_than_ignored(objective):
    with pytest.raises(InvalidInputError, match=f"objective '{objective}' is for kind 'vae'"):
        models.build(kind="gmvae", image_shape=(8, 8), latent_dim=2, hidden_units=8,
                     extra={"components": 2}, objective=objective)
