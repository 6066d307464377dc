"""Held-out numbers (tfvae.evaluation): the per-image Gaussian fit of {eq}`eq-inference-gaps` climbs
above the encoder's ELBO, stays below the evidence, and refuses bad settings; the paired difference
of two models' per-image numbers and its standard error."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfvae import data, evaluation, models, objectives, training
from tfvae.errors import InvalidInputError


@pytest.fixture(scope="module")
def trained():
    ds = data.load("digits")
    training.set_seed(0)
    vae = models.build(image_shape=ds.image_shape, latent_dim=4, hidden_units=32)
    training.fit(vae, ds, epochs=3, binarization="dynamic", validate=False, verbose=0, jit_compile=False)
    return vae, ds.binarized("test")[:50]


def test_the_fitted_gaussians_beat_the_encoder_and_stay_below_the_evidence(trained):
    vae, x = trained
    optimized, q_star = evaluation.optimized_gaussian_elbo(vae, x, steps=100, eval_samples=500)
    amortized = vae.elbo(x, n_samples=500, seed=tf.constant([5, 0])).elbo.numpy()
    log_px = objectives.importance_weighted_bound(x, vae.encode, vae.decode, vae.prior, k=2000, chunk_size=500,
                                                  seed=tf.constant([5, 1])).numpy()
    assert optimized.shape == (50,) and q_star.batch_shape == (50,)
    # Gradient ascent from the encoder's q can only climb (up to the noise of 500-sample estimates, a few
    # hundredths of a nat per image here); averaged over 50 images it must climb clearly.
    gain = optimized - amortized
    assert gain.mean() > 3 * gain.std(ddof=1) / np.sqrt(len(gain))
    # Every Gaussian's ELBO is below log p(x): the average must not exceed the importance-sampled evidence
    # beyond its noise.
    excess = optimized - log_px
    assert excess.mean() < 3 * excess.std(ddof=1) / np.sqrt(len(excess))


@pytest.mark.parametrize("setting", [{"steps": 0}, {"n_samples": -1}, {"eval_samples": 0}])
def test_bad_settings_are_refused_by_name(trained, setting):
    vae, x = trained
    with pytest.raises(InvalidInputError, match=next(iter(setting))):
        evaluation.optimized_gaussian_elbo(vae, x, **setting)


def test_images_of_the_wrong_shape_are_refused(trained):
    vae, _ = trained
    with pytest.raises(InvalidInputError, match="shape"):
        evaluation.optimized_gaussian_elbo(vae, np.zeros((3, 28, 28), np.float32))


def test_evaluate_gives_each_images_values_whose_means_are_the_averages(trained):
    vae, _ = trained
    result = evaluation.evaluate(vae, data.load("digits"), binarization="dynamic", k=20, max_images=40)
    for key in ("elbo", "log_likelihood"):
        values = result["per_image"][key]
        assert values.shape == (40,)
        np.testing.assert_allclose(values.mean(), result[key], rtol=1e-6)


def test_mean_and_standard_error_is_the_sample_mean_and_sd_over_root_n():
    values = np.array([2.0, 3.0, 2.0, 5.0])  # mean 3, sample sd sqrt(2)
    mean, standard_error = evaluation.mean_and_standard_error(values)
    assert mean == pytest.approx(3.0)
    assert standard_error == pytest.approx(math.sqrt(2.0) / 2.0)


@pytest.mark.parametrize("values,match", [
    (np.zeros((2, 2)), "1-D"),
    (np.zeros(1), ">= 2"),
    (np.array([0.0, np.inf]), "finite"),
])
def test_mean_and_standard_error_refuses_values_it_cannot_average(values, match):
    with pytest.raises(InvalidInputError, match=match):
        evaluation.mean_and_standard_error(values)


def test_paired_difference_is_the_mean_difference_and_its_standard_error():
    a = np.array([3.0, 5.0, 4.0, 8.0])
    b = np.array([1.0, 2.0, 2.0, 3.0])  # differences 2, 3, 2, 5: mean 3, sample sd sqrt(2)
    mean, standard_error = evaluation.paired_difference(a, b)
    assert mean == pytest.approx(3.0)
    assert standard_error == pytest.approx(math.sqrt(2.0) / 2.0)
    # Pairing removes what the two share: a large common offset per item changes nothing.
    offsets = np.array([100.0, -50.0, 7.0, 0.0])
    assert evaluation.paired_difference(a + offsets, b + offsets) == pytest.approx((mean, standard_error))


@pytest.mark.parametrize("a,b,match", [
    (np.zeros(3), np.zeros(4), "same length"),
    (np.zeros((2, 2)), np.zeros((2, 2)), "1-D"),
    (np.zeros(1), np.zeros(1), ">= 2"),
    (np.array([0.0, np.nan]), np.zeros(2), "finite"),
])
def test_paired_difference_refuses_values_it_cannot_pair(a, b, match):
    with pytest.raises(InvalidInputError, match=match):
        evaluation.paired_difference(a, b)
