"""The variational RNN and its linear-Gaussian check (tfvae.models.vrnn), and the sequences it trains on."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import data
from tfvae.errors import InvalidInputError
from tfvae.models import vrnn

tfd = tfp.distributions


def test_synthetic_sequences_are_deterministic_and_shaped():
    a, b = data.synthetic_sequences(50, 30, seed=3), data.synthetic_sequences(50, 30, seed=3)
    assert a.shape == (50, 30, 1) and a.dtype == np.float32
    assert np.array_equal(a, b)
    assert not np.array_equal(a, data.synthetic_sequences(50, 30, seed=4))


def test_vrnn_elbo_is_a_sum_of_per_step_terms():
    model = vrnn.VRNN(latent_dim=2, state_dim=8, hidden_units=8)
    x = data.synthetic_sequences(5, 6)
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
    x = data.synthetic_sequences(256, 20, seed=0)
    model = vrnn.VRNN(latent_dim=2, state_dim=16, hidden_units=16)
    history = vrnn.fit_sequences(model, x, epochs=6, batch_size=32)
    assert np.all(np.isfinite(history["elbo"]))
    # Six epochs move the per-sequence ELBO by far more than its minibatch noise (a few nats).
    assert history["elbo"][-1] > history["elbo"][0] + 5
    samples = model.generate(3, 25, seed=1)
    assert samples.shape == (3, 25, 1) and np.isfinite(samples).all()


def test_vrnn_without_sequential_prior_uses_a_standard_normal():
    model = vrnn.VRNN(latent_dim=3, state_dim=4, hidden_units=4, sequential_prior=False)
    p = model.step_prior(tf.random.normal([2, 4]))
    np.testing.assert_array_equal(p.mean(), np.zeros((2, 3)))
    np.testing.assert_array_equal(p.stddev(), np.ones((2, 3)))


def test_vrnn_rejects_badly_shaped_sequences():
    with pytest.raises(InvalidInputError, match="shape"):
        vrnn.fit_sequences(vrnn.VRNN(), np.zeros((4, 5)), epochs=1)


# --- the linear-Gaussian VRNN: the VRNN's ELBO against a Kalman filter --------------------------

def linear_gaussian_vrnn():
    return vrnn.LinearGaussianVRNN([[0.9, 0.2], [-0.3, 0.8]], [0.3, 0.2], [1.0, 0.7], [0.1, 0.2])


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
    monkeypatch.setattr(vrnn.objectives, "gaussian_kl", lambda *args: tf.zeros(tf.shape(args[0])[:-1]))
    mean, se = gap_to_exact(linear_gaussian_vrnn(), 1)
    assert abs(mean) > 3 * se


@pytest.mark.parametrize("bad", [{"transition": [1.0, 2.0]}, {"transition_variance": [0.3, -0.2]},
                                 {"observation_variance": [0.1]}, {"observation_scale": [1.0, float("nan")]}])
def test_bad_linear_gaussian_settings_are_refused_by_name(bad):
    settings = dict(transition=[[0.9, 0.2], [-0.3, 0.8]], transition_variance=[0.3, 0.2],
                    observation_scale=[1.0, 0.7], observation_variance=[0.1, 0.2])
    settings.update(bad)
    with pytest.raises(InvalidInputError, match=next(iter(bad))):
        vrnn.LinearGaussianVRNN(**settings)
