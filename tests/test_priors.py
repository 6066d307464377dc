"""Structured priors: the learned mixture prior VAE and the small VRNN."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import data, models, objectives, priors, serialization, training
from tfvae.errors import InvalidInputError

tfd = tfp.distributions


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


def test_mixture_prior_is_a_normalized_density_with_learned_parts():
    model = models.build(kind="vae_mixture_prior", image_shape=(8, 8), latent_dim=2, hidden_units=16,
                         extra={"components": 3})
    prior = model.prior
    assert prior.event_shape == (2,)
    # Integrate the density on a grid wide enough to hold all of its mass: it sums to 1.
    grid = np.linspace(-8, 8, 401)
    zz = np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2).astype(np.float32)
    mass = np.exp(prior.log_prob(zz).numpy()).sum() * (grid[1] - grid[0]) ** 2
    assert mass == pytest.approx(1.0, abs=1e-3)  # the Riemann sum's error at step 0.04 is far below this
    names = {v.name for v in model.trainable_variables}
    assert {"prior_logits", "prior_means", "prior_log_scales"} <= {n.split("/")[-1].split(":")[0] for n in names}


def test_mixture_prior_elbo_is_the_sampled_kl_estimator(digits):
    model = models.build(kind="vae_mixture_prior", image_shape=(8, 8), latent_dim=2, hidden_units=16,
                         extra={"components": 3})
    x = digits.binarized("train")[:8]
    seed = tf.constant([1, 2])
    terms = model.elbo(x, seed=seed)
    q = model.encode(x)
    z = q.sample(1, seed=seed)
    expected = model.decode(z).log_prob(x)[0] + model.prior.log_prob(z)[0] - q.log_prob(z)[0]
    np.testing.assert_allclose(terms.elbo, expected, rtol=1e-5, atol=1e-4)


def test_mixture_prior_vae_trains_saves_and_loads(digits, tmp_path):
    training.set_seed(0)
    model = models.build(kind="vae_mixture_prior", image_shape=(8, 8), latent_dim=2, hidden_units=32,
                         extra={"components": 4})
    before = model.prior_means.numpy().copy()
    history = training.fit(model, digits, epochs=5, binarization="static", verbose=0)
    assert np.all(np.isfinite(history["loss"])) and history["loss"][-1] < history["loss"][0]
    assert not np.allclose(model.prior_means.numpy(), before)  # the prior itself was learned
    serialization.save(model, tmp_path / "m")
    loaded = serialization.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.prior_means.numpy(), model.prior_means.numpy())
    z = np.zeros((1, 2), np.float32)
    np.testing.assert_allclose(loaded.prior.log_prob(z), model.prior.log_prob(z), rtol=1e-6)


def test_mixture_prior_needs_two_components():
    with pytest.raises(InvalidInputError, match="components"):
        models.build(kind="vae_mixture_prior", image_shape=(8, 8), latent_dim=2, hidden_units=8,
                     extra={"components": 1})


def test_synthetic_sequences_are_deterministic_and_shaped():
    a, b = priors.synthetic_sequences(50, 30, seed=3), priors.synthetic_sequences(50, 30, seed=3)
    assert a.shape == (50, 30, 1) and a.dtype == np.float32
    assert np.array_equal(a, b)
    assert not np.array_equal(a, priors.synthetic_sequences(50, 30, seed=4))


def test_vrnn_elbo_is_a_sum_of_per_step_terms():
    model = priors.VRNN(latent_dim=2, state_dim=8, hidden_units=8)
    x = priors.synthetic_sequences(5, 6)
    seed = tf.constant([0, 7])
    terms = model.elbo(x, seed=seed)
    # The same computation written out step by step with TFP's own KL.
    noise = tf.random.stateless_normal([6, 5, 2], seed=seed)
    h = tf.zeros([5, 8])
    expected = np.zeros(5)
    for t in range(6):
        prior, posterior = model.step_prior(h), model.step_posterior(x[:, t], h)
        z = posterior.mean() + posterior.stddev() * noise[t]
        expected += (model.step_decoder(z, h).log_prob(x[:, t]) - tfd.kl_divergence(posterior, prior)).numpy()
        h, _ = model.cell(tf.concat([x[:, t], z], -1), [h])
    np.testing.assert_allclose(terms.elbo, expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(terms.elbo, terms.reconstruction - terms.kl, rtol=1e-6, atol=1e-5)


def test_vrnn_training_raises_the_elbo_and_generates_sequences():
    tf.keras.utils.set_random_seed(0)
    x = priors.synthetic_sequences(256, 20, seed=0)
    model = priors.VRNN(latent_dim=2, state_dim=16, hidden_units=16)
    history = priors.fit_sequences(model, x, epochs=6, batch_size=32)
    assert np.all(np.isfinite(history["elbo"]))
    # Six epochs move the per-sequence ELBO by far more than its minibatch noise (a few nats).
    assert history["elbo"][-1] > history["elbo"][0] + 5
    samples = model.generate(3, 25, seed=1)
    assert samples.shape == (3, 25, 1) and np.isfinite(samples).all()


def test_vrnn_without_sequential_prior_uses_a_standard_normal():
    model = priors.VRNN(latent_dim=3, state_dim=4, hidden_units=4, sequential_prior=False)
    p = model.step_prior(tf.random.normal([2, 4]))
    np.testing.assert_array_equal(p.mean(), np.zeros((2, 3)))
    np.testing.assert_array_equal(p.stddev(), np.ones((2, 3)))


def test_vrnn_rejects_badly_shaped_sequences():
    with pytest.raises(InvalidInputError, match="shape"):
        priors.fit_sequences(priors.VRNN(), np.zeros((4, 5)), epochs=1)


# --- the linear-Gaussian VRNN: the VRNN's ELBO against a Kalman filter --------------------------

def linear_gaussian_vrnn():
    return priors.LinearGaussianVRNN([[0.9, 0.2], [-0.3, 0.8]], [0.3, 0.2], [1.0, 0.7], [0.1, 0.2])


def gap_to_exact(model, length, n=300, repeats=50):
    """Per-sequence log p(x) - ELBO (the ELBO averaged over `repeats` noise draws): mean and standard error."""
    x = model.state_space_model(length).sample(n, seed=[1, length]).numpy()
    elbo = model.elbo(np.repeat(x, repeats, axis=0), seed=tf.constant([2, length])).elbo.numpy()
    gap = model.exact_log_likelihood(x).numpy() - elbo.reshape(n, repeats).mean(axis=1)
    return gap.mean(), gap.std(ddof=1) / np.sqrt(n)


def test_one_step_elbo_with_the_exact_posterior_equals_the_kalman_log_likelihood():
    mean, se = gap_to_exact(linear_gaussian_vrnn(), 1)
    assert abs(mean) < 3 * se and se < 0.01  # Monte Carlo error only, and small enough to mean something


def test_longer_sequences_are_strictly_bounded_by_the_kalman_log_likelihood():
    mean, se = gap_to_exact(linear_gaussian_vrnn(), 10)
    assert mean > 3 * se  # q sees x_t and the past, not the future: a strict bound


def test_a_vrnn_whose_kl_is_dropped_no_longer_matches_the_kalman_filter(monkeypatch):
    monkeypatch.setattr(priors.objectives, "gaussian_kl", lambda *args: tf.zeros(tf.shape(args[0])[:-1]))
    mean, se = gap_to_exact(linear_gaussian_vrnn(), 1)
    assert abs(mean) > 3 * se


@pytest.mark.parametrize("bad", [{"transition": [1.0, 2.0]}, {"transition_variance": [0.3, -0.2]},
                                 {"observation_variance": [0.1]}, {"observation_scale": [1.0, float("nan")]}])
def test_bad_linear_gaussian_settings_are_refused_by_name(bad):
    settings = dict(transition=[[0.9, 0.2], [-0.3, 0.8]], transition_variance=[0.3, 0.2],
                    observation_scale=[1.0, 0.7], observation_variance=[0.1, 0.2])
    settings.update(bad)
    with pytest.raises(InvalidInputError, match=next(iter(bad))):
        priors.LinearGaussianVRNN(**settings)
