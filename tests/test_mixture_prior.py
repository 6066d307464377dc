"""The VAE with a learned mixture-of-Gaussians prior (tfvae.models.mixture_prior)."""

import numpy as np
import pytest
import tensorflow as tf

from tfvae import data, models, serialization, training
from tfvae.errors import InvalidInputError


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
