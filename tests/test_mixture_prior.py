"""The VAE with a learned mixture-of-Gaussians prior (tfvae.models.mixture_prior)."""

import numpy as np
import pytest
import tensorflow as tf

from tfvae import data, models, serialization, training
from tfvae.errors import InvalidInputError
from tfvae.models.mixture_prior import fit_gaussian_mixture, start_from_autoencoder


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


# --- the components as clusters (VaDE's cluster rule and start) -----------------------------------

def _trained_autoencoder(digits, latent_dim=2, hidden_units=16):
    training.set_seed(0)
    autoencoder = models.build(kind="autoencoder", image_shape=(8, 8), latent_dim=latent_dim,
                               hidden_units=hidden_units)
    training.fit(autoencoder, digits, epochs=2, binarization="static", verbose=0, validate=False)
    return autoencoder


def test_component_posterior_is_bayes_rule_on_the_prior():
    model = models.build(kind="vae_mixture_prior", image_shape=(8, 8), latent_dim=2, hidden_units=8,
                         extra={"components": 3})
    rng = np.random.default_rng(0)
    model.prior_logits.assign(rng.normal(size=3).astype(np.float32))
    model.prior_means.assign(rng.normal(size=(3, 2)).astype(np.float32))
    model.prior_log_scales.assign(0.3 * rng.normal(size=(3, 2)).astype(np.float32))
    z = rng.normal(size=(5, 2))
    w = np.exp(model.prior_logits.numpy().astype(np.float64))
    w /= w.sum()
    m, s = model.prior_means.numpy().astype(np.float64), np.exp(model.prior_log_scales.numpy().astype(np.float64))
    density = np.prod(np.exp(-0.5 * ((z[:, None, :] - m) / s) ** 2) / (np.sqrt(2 * np.pi) * s), axis=-1)  # (5, 3)
    expected = w * density / (w * density).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.component_posterior(z.astype(np.float32)).probs_parameter().numpy(), expected,
                               rtol=1e-4, atol=1e-6)


def test_cluster_is_the_most_probable_component_at_the_code_mean(digits):
    model = models.build(kind="vae_mixture_prior", image_shape=(8, 8), latent_dim=2, hidden_units=8,
                         extra={"components": 4})
    x = digits.binarized("test")[:50]
    expected = np.argmax(model.component_posterior(model.encode(x).mean()).probs_parameter().numpy(), axis=1)
    np.testing.assert_array_equal(model.cluster(x, batch_size=16), expected)  # batching changes nothing


def test_start_from_autoencoder_copies_the_networks_and_fits_the_prior_to_the_codes(digits):
    autoencoder = _trained_autoencoder(digits)
    model = models.build(kind="vae_mixture_prior", image_shape=(8, 8), latent_dim=2, hidden_units=16,
                         extra={"components": 3})
    x = digits.binarized("train")
    weights, means, variances = start_from_autoencoder(model, autoencoder, x, initial_log_variance=-3.0)
    codes = autoencoder.encode(x).mean().numpy()
    q = model.encode(x)
    np.testing.assert_allclose(q.mean().numpy(), codes, rtol=1e-5, atol=1e-5)  # mu(x) is the code f(x)
    np.testing.assert_allclose(q.stddev().numpy(), np.exp(-1.5), rtol=1e-5)   # every log-variance starts at -3
    np.testing.assert_allclose(model.decode(codes).mean().numpy(), autoencoder.decode(codes).mean().numpy(),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tf.nn.softmax(model.prior_logits).numpy(), weights, rtol=1e-5)
    np.testing.assert_allclose(model.prior_means.numpy(), means, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.exp(2 * model.prior_log_scales.numpy()), variances, rtol=1e-4)
    # The fit is EM's: each component's mean is the average of the codes, weighted by the component's responsibilities.
    posterior = model.component_posterior(codes).probs_parameter().numpy().astype(np.float64)
    np.testing.assert_allclose(posterior.T @ codes / posterior.sum(axis=0)[:, None], means, atol=1e-2)


def test_start_from_autoencoder_refuses_networks_that_do_not_match(digits):
    autoencoder = _trained_autoencoder(digits)
    wider = models.build(kind="vae_mixture_prior", image_shape=(8, 8), latent_dim=2, hidden_units=32,
                         extra={"components": 3})
    with pytest.raises(InvalidInputError, match="hidden_units"):
        start_from_autoencoder(wider, autoencoder, digits.binarized("train"))
    plain = models.build(kind="vae", image_shape=(8, 8), latent_dim=2, hidden_units=16)
    with pytest.raises(InvalidInputError, match="vae_mixture_prior"):
        start_from_autoencoder(plain, autoencoder, digits.binarized("train"))


def test_fit_gaussian_mixture_finds_separated_components():
    rng = np.random.default_rng(0)
    centres = np.array([[-5.0, 0.0], [5.0, 0.0], [0.0, 6.0]])
    codes = np.concatenate([c + rng.normal(scale=[0.5, 1.0], size=(n, 2)) for c, n in zip(centres, (200, 400, 400))])
    weights, means, variances = fit_gaussian_mixture(codes, 3)
    key = lambda points: np.argsort(points[:, 0] + 0.1 * points[:, 1])  # the same order for fit and truth
    order, truth = key(means), key(centres)
    # Standard errors of 200-400 draws: about 0.05 for a mean, 0.03 for a weight, 0.1 for a variance of 1.
    np.testing.assert_allclose(means[order], centres[truth], atol=0.2)
    np.testing.assert_allclose(weights[order], np.array([0.2, 0.4, 0.4])[truth], atol=0.05)
    np.testing.assert_allclose(variances[order], [[0.25, 1.0]] * 3, rtol=0.3)
    with pytest.raises(InvalidInputError, match="NaN"):
        fit_gaussian_mixture(np.full((10, 2), np.nan), 3)
    with pytest.raises(InvalidInputError, match="shape"):
        fit_gaussian_mixture(codes[:2], 3)
