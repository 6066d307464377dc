"""The VAE with an autoregressive (MADE) decoder: logit i sees only the pixels before it and z,
p(x|z) sums to one over all images, its samples follow it, and the model trains, saves and loads."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from tfvae import data, models, objectives, serialization, training
from tfvae.errors import InvalidInputError
from tfvae.models.autoregressive_vae import ConditionalMADE, made_masks


def test_every_path_through_the_masks_runs_from_an_earlier_pixel_to_a_later_logit():
    """{eq}`eq-made-masks`: pixel j reaches logit i (through the hidden layer or directly) exactly when j < i."""
    pixels, hidden = 9, 20
    to_hidden, to_logit, direct = made_masks(pixels, hidden)
    assert to_hidden.shape == (pixels, hidden) and to_logit.shape == (hidden, pixels) and direct.shape == (pixels,) * 2
    through_hidden = (to_hidden @ to_logit) > 0
    earlier = np.arange(pixels)[:, None] < np.arange(pixels)[None, :]  # [j, i]: pixel j comes before logit i
    np.testing.assert_array_equal(through_hidden, earlier)  # never j >= i, and every j < i is reachable
    np.testing.assert_array_equal(direct > 0, earlier)


def test_a_logit_does_not_depend_on_its_own_pixel_or_later_ones():
    """The Jacobian d l_i / d x_j of the layer is zero for j >= i and not for every j < i."""
    pixels, latent = 6, 2
    layer = ConditionalMADE(pixels, latent, hidden_units=12)
    rng = np.random.default_rng(0)
    layer(tf.zeros((1, pixels)), tf.zeros((1, latent)))
    for weight in layer.weights:  # W_0 starts at zero; give every weight a value, so every allowed path is live
        weight.assign(rng.normal(size=weight.shape).astype(np.float32))
    x = tf.constant(rng.random((1, pixels)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = layer(x, tf.constant(rng.normal(size=(1, latent)), tf.float32))
    jacobian = tape.jacobian(logits, x).numpy()[0, :, 0, :]  # [i, j]
    later_or_same = np.arange(pixels)[None, :] >= np.arange(pixels)[:, None]
    assert np.all(jacobian[later_or_same] == 0)
    assert np.all(jacobian[~later_or_same] != 0)


@pytest.fixture(scope="module")
def small_model():
    training.set_seed(0)
    model = models.build(kind="made_vae", image_shape=(2, 2), latent_dim=2, hidden_units=8)
    rng = np.random.default_rng(1)
    for weight in model.decoder.weights:
        weight.assign(rng.normal(size=weight.shape).astype(np.float32))
    return model


def test_p_x_given_z_sums_to_one_over_all_images(small_model):
    """{eq}`eq-autoregressive-decoder` is a distribution: over the 16 binary 2x2 images, p(x|z) sums to 1 for each z."""
    images = np.array(list(itertools.product([0.0, 1.0], repeat=4)), np.float32).reshape(16, 1, 2, 2)
    z = np.random.default_rng(2).normal(size=(3, 2)).astype(np.float32)  # three codes, scored on every image
    log_p = small_model.decode(z).log_prob(images).numpy()  # (16, 3)
    assert log_p.shape == (16, 3)
    np.testing.assert_allclose(np.exp(log_p).sum(axis=0), 1.0, rtol=1e-5)
    # The probabilities differ from image to image, so the sum is not 1 by some accident of uniformity.
    assert np.ptp(log_p) > 1.0


def test_samples_follow_p_x_given_z(small_model):
    """Drawn one pixel at a time, the 16 images' frequencies match exp(log p(x|z)) (chi-square, 15 dof)."""
    n = 4000
    z = np.tile(np.array([[0.3, -0.7]], np.float32), (n, 1))
    samples = small_model.decode(z).sample(seed=tf.constant([5, 6])).numpy().reshape(n, 4)
    assert set(np.unique(samples)) <= {0.0, 1.0}
    index = samples @ np.array([8, 4, 2, 1])
    counts = np.bincount(index.astype(int), minlength=16)
    images = np.array(list(itertools.product([0.0, 1.0], repeat=4)), np.float32).reshape(16, 2, 2)
    expected = n * np.exp(small_model.decode(z[:1]).log_prob(images).numpy())
    keep = expected > 5
    chi_square = np.sum((counts[keep] - expected[keep]) ** 2 / expected[keep])
    assert chi_square < 37.7, (counts, expected)  # the 0.999 quantile of chi-square with 15 degrees of freedom


def test_it_trains_and_its_bounds_agree(tmp_path):
    ds = data.load("digits")
    training.set_seed(0)
    model = models.build(kind="made_vae", image_shape=ds.image_shape, latent_dim=4, hidden_units=32)
    history = training.fit(model, ds, epochs=3, binarization="dynamic", validate=False, verbose=0)
    assert history["elbo"][-1] > history["elbo"][0]
    x = ds.binarized("test", seed=0)[:50]
    elbo = model.elbo(x, n_samples=200, seed=tf.constant([0, 1])).elbo.numpy()
    log_likelihood = objectives.marginal_log_likelihood(model, x, k=200)
    assert np.all(np.isfinite(log_likelihood))
    assert log_likelihood.mean() >= elbo.mean()  # L_k >= L_1 on average, {eq}`eq-iwae`
    sample = model.sample(3, seed=[0, 1]).numpy()
    assert sample.shape == (3,) + ds.image_shape and set(np.unique(sample)) <= {0.0, 1.0}

    serialization.save(model, tmp_path / "made")
    loaded = serialization.load(tmp_path / "made")
    np.testing.assert_allclose(loaded.elbo(x, seed=tf.constant([0, 1])).elbo.numpy(),
                               model.elbo(x, seed=tf.constant([0, 1])).elbo.numpy(), rtol=1e-6)


def test_bad_settings_are_refused_in_one_line():
    with pytest.raises(InvalidInputError, match="bernoulli"):
        models.build(kind="made_vae", image_shape=(4, 4), latent_dim=2, hidden_units=8, likelihood="gaussian")
    with pytest.raises(InvalidInputError, match="at least 2 pixels"):
        made_masks(1, 4)
    with pytest.raises(InvalidInputError, match="hidden_units"):
        made_masks(4, 0)
