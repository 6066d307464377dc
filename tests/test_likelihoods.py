"""Pixel likelihoods for grey-level images: the fixed-variance Gaussian is a scaled squared error,
the discretized logistic is a distribution over the 256 grey levels, dequantization spreads each
level over its bin, and bits per dimension and gradient energy measure what chapter 16 says."""

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import expit

from tfvae import data, evaluation, models, serialization, training
from tfvae.errors import InvalidInputError
from tfvae.explore import decoder_export
from tfvae.metrics import sharpness
from tfvae.models.likelihoods import LEVELS, DiscretizedLogistic, pixel_levels

# Locations inside, at the edges of and beyond [0, 1], with scales from a tenth of a bin to wide.
LOC = np.array([-0.3, 0.0, 0.2, 0.5, 0.999, 1.4], np.float32)
SCALE = np.array([0.001, 0.01, 0.1, 0.003, 0.05, 0.2], np.float32)
RAW_LEVELS = np.arange(LEVELS, dtype=np.float32) / (LEVELS - 1)  # how the data store level k: k/255


def reference_probabilities(loc, scale):
    """P(level k) in float64, from the logistic CDF with the first and last bins open-ended. Shape (256, n)."""
    k = np.arange(LEVELS)[:, None]
    upper = np.where(k == LEVELS - 1, 1.0, expit(((k + 1) / LEVELS - loc) / scale))
    lower = np.where(k == 0, 0.0, expit((k / LEVELS - loc) / scale))
    return upper - lower


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", max_train=400)


def test_discretized_logistic_puts_probability_one_on_the_256_levels_and_matches_the_cdf():
    dist = DiscretizedLogistic(loc=LOC, scale=SCALE)
    log_p = dist.log_prob(RAW_LEVELS[:, None]).numpy().astype(np.float64)  # (256, 6)
    # float32 sums of 256 terms: 1e-5 is rounding.
    np.testing.assert_allclose(np.exp(log_p).sum(axis=0), 1.0, atol=1e-5)
    reference = reference_probabilities(LOC.astype(np.float64), SCALE.astype(np.float64))
    likely = reference > 1e-6  # below that, float64's own difference of CDFs loses digits
    # (k/256 - mu)/s reaches ~500 in float32 for the narrowest scale: 1e-3 nats absolute is its rounding.
    np.testing.assert_allclose(log_p[likely], np.log(reference[likely]), atol=1e-3)
    assert np.isfinite(log_p).all()  # even where the mass is astronomically small


def test_a_raw_level_and_any_dequantized_value_of_it_have_the_same_probability():
    dist = DiscretizedLogistic(loc=LOC, scale=SCALE)
    k = np.arange(LEVELS, dtype=np.float32)[:, None]
    u = np.random.default_rng(0).random((LEVELS, len(LOC)), dtype=np.float32)
    np.testing.assert_array_equal(pixel_levels((k + u) / LEVELS).numpy(), np.broadcast_to(k, u.shape))
    np.testing.assert_array_equal(pixel_levels(RAW_LEVELS).numpy(), k[:, 0])
    np.testing.assert_array_equal(dist.log_prob((k + u) / LEVELS), dist.log_prob(RAW_LEVELS[:, None]))


def test_discretized_logistic_mean_and_samples_are_in_the_datas_units():
    dist = DiscretizedLogistic(loc=LOC, scale=SCALE)
    reference = reference_probabilities(LOC.astype(np.float64), SCALE.astype(np.float64))
    exact_mean = (reference * RAW_LEVELS[:, None]).sum(axis=0)
    np.testing.assert_allclose(dist.mean(), exact_mean, atol=1e-5)
    n = 20_000
    samples = dist.sample(n, seed=tf.constant([1, 2])).numpy()
    assert np.all(np.isin(samples, RAW_LEVELS))  # every sample is one of the 256 stored values
    exact_sd = np.sqrt((reference * RAW_LEVELS[:, None] ** 2).sum(axis=0) - exact_mean ** 2)
    # Within 5 standard errors of the exact mean (a constant pixel has sd 0 and must match exactly).
    assert np.all(np.abs(samples.mean(axis=0) - exact_mean) <= 5 * exact_sd / np.sqrt(n) + 1e-6)


def test_discretized_logistic_refuses_what_it_does_not_define():
    dist = DiscretizedLogistic(loc=LOC, scale=SCALE)
    for method in (dist.cdf, dist.survival_function):
        with pytest.raises(NotImplementedError, match="log_prob, prob, sample and mean only"):
            method(0.5)
    for method in (dist.variance, dist.entropy, dist.mode):
        with pytest.raises(NotImplementedError, match="log_prob, prob, sample and mean only"):
            method()


def test_fixed_variance_gaussian_reconstruction_is_a_scaled_squared_error():
    """{eq}`eq-gaussian-mse`: log p(x|z) = -||x - mu(z)||^2 / (2 sigma^2) - (D/2) log(2 pi sigma^2)."""
    sigma = 0.07
    training.set_seed(0)
    model = models.build(image_shape=(8, 8), latent_dim=2, hidden_units=16, likelihood="gaussian_fixed",
                         observation_scale=sigma)
    z = np.random.default_rng(1).normal(size=(5, 2)).astype(np.float32)
    x = np.random.default_rng(2).random((5, 8, 8)).astype(np.float32)
    p = model.decode(z)
    squared_error = ((x - p.mean().numpy()) ** 2).sum(axis=(1, 2))
    expected = -squared_error / (2 * sigma ** 2) - 64 / 2 * np.log(2 * np.pi * sigma ** 2)
    np.testing.assert_allclose(p.log_prob(x), expected, rtol=1e-5, atol=1e-4)  # float32 sums of 64 terms


@pytest.mark.parametrize("likelihood", ["gaussian", "discretized_logistic"])
def test_grey_level_models_train_and_save(digits, likelihood, tmp_path):
    training.set_seed(0)
    model = models.build(image_shape=(8, 8), latent_dim=2, hidden_units=32, likelihood=likelihood)
    binarization = "dequantized" if likelihood == "gaussian" else "none"
    before = evaluation.evaluate(model, digits, binarization=binarization, k=10, max_images=100)["elbo"]
    training.fit(model, digits, epochs=10, binarization=binarization, validate=False, verbose=0)
    result = evaluation.evaluate(model, digits, binarization=binarization, k=10, max_images=100)
    assert result["elbo"] > before + 10  # training raises the ELBO of held-out images
    assert result["log_likelihood"] >= result["elbo"] - 1e-3
    serialization.save(model, tmp_path / "m")
    loaded = serialization.load(tmp_path / "m")
    x = digits.evaluation_images("test", binarization)[:4]
    np.testing.assert_allclose(loaded.decode(loaded.encode(x).mean()).log_prob(x),
                               model.decode(model.encode(x).mean()).log_prob(x), rtol=1e-6)


def test_dequantization_keeps_each_level_in_its_bin_and_draws_afresh_each_epoch(digits):
    x = digits.train.x
    levels = np.clip(np.floor(x * 256), 0, 255)
    first, again, later = (data.dequantize(x, seed=0, epoch=e) for e in (0, 0, 1))
    assert np.all((first >= levels / 256) & (first < (levels + 1) / 256))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, later)
    # Training batches are fresh every epoch; evaluation images are one fixed draw.
    epoch = {e: np.concatenate([b[0].reshape(-1, 8, 8) for b in digits.epoch_batches(
        "train", binarization="dequantized", shuffle=False, epoch=e)]) for e in (0, 1)}
    np.testing.assert_array_equal(epoch[0], first)
    assert not np.array_equal(epoch[0], epoch[1])
    test = digits.evaluation_images("test", "dequantized")
    np.testing.assert_array_equal(test, digits.evaluation_images("test", "dequantized"))
    np.testing.assert_array_equal(pixel_levels(test).numpy(), np.clip(np.floor(digits.test.x * 256), 0, 255))


def test_bits_per_dimension_of_a_discrete_model_and_of_a_density():
    d = 784
    # A discrete model giving every pixel two equally likely values spends one bit per pixel.
    np.testing.assert_allclose(evaluation.bits_per_dimension(-d * np.log(2.0), d, density=False), 1.0)
    # The uniform density on [0, 1)^D (log p = 0) is the uniform distribution on the 256 levels: 8 bits.
    np.testing.assert_allclose(evaluation.bits_per_dimension(0.0, d, density=True), 8.0)
    with pytest.raises(InvalidInputError, match="dimensions"):
        evaluation.bits_per_dimension(0.0, 0, density=True)


def test_gradient_energy_is_zero_for_flat_images_and_falls_when_an_image_blurs():
    flat = np.full((1, 6, 6), 0.3)
    checkerboard = (np.indices((6, 6)).sum(axis=0) % 2).astype(np.float32)[None]
    np.testing.assert_allclose(sharpness.gradient_energy(flat), 0.0)
    np.testing.assert_allclose(sharpness.gradient_energy(checkerboard), 1.0)  # every neighbour differs by 1
    image = (np.random.default_rng(0).random((1, 12, 12)) > 0.5).astype(np.float32)
    blurred = (image + np.roll(image, 1, axis=1) + np.roll(image, 1, axis=2) + np.roll(image, (1, 1), axis=(1, 2))) / 4
    assert sharpness.gradient_energy(blurred)[0] < sharpness.gradient_energy(image)[0]
    with pytest.raises(InvalidInputError, match="h, w >= 2"):
        sharpness.gradient_energy(np.zeros((2, 1, 5)))


def test_explorer_export_refuses_a_discretized_logistic_decoder():
    model = models.build(image_shape=(8, 8), latent_dim=2, hidden_units=16, likelihood="discretized_logistic")
    with pytest.raises(decoder_export.UntranslatableDecoderError, match="discretized-logistic"):
        decoder_export.export_decoder(model)


def test_training_refuses_grey_levels_outside_the_unit_interval_for_a_discretized_logistic(digits):
    model = models.build(image_shape=(8, 8), latent_dim=2, hidden_units=16, likelihood="discretized_logistic")
    scaled = data.ImageDataset(name="digits", train=data.Split(digits.train.x * 16, digits.train.y),
                               validation=digits.validation, test=digits.test, source="test")
    with pytest.raises(InvalidInputError, match=r"need every value in \[0, 1\]"):
        training.fit(model, scaled, epochs=1, validate=False, verbose=0)


def test_the_shared_sigma_is_learned_and_its_elbo_gradient_vanishes_at_the_root_mean_square_error():
    """{eq}`eq-optimal-sigma`: for fixed means, d/d log sigma of log p(x|z) is zero exactly at sigma^2 = S / D."""
    training.set_seed(0)
    model = models.build(image_shape=(8, 8), latent_dim=2, hidden_units=16, likelihood="gaussian_shared",
                         observation_scale=0.3)
    assert model.log_observation_scale in model.trainable_variables
    np.testing.assert_allclose(np.exp(model.log_observation_scale.numpy()), 0.3, rtol=1e-6)
    z = np.random.default_rng(1).normal(size=(50, 2)).astype(np.float32)
    x = np.random.default_rng(2).random((50, 8, 8)).astype(np.float32)
    error_per_pixel = np.mean((x - model.decode(z).mean().numpy()) ** 2)

    def slope(sigma):
        model.log_observation_scale.assign(np.log(sigma))
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(model.decode(z).log_prob(x))
        return float(tape.gradient(total, model.log_observation_scale))

    best = np.sqrt(error_per_pixel)
    # The slope is D n (S / (D n sigma^2) - 1): about 3,200 nats per unit of log sigma here; 0.5 is rounding.
    assert abs(slope(best)) < 0.5
    assert slope(best / 2) > 100 and slope(best * 2) < -100  # below the optimum it rises, above it falls
