"""Specifications of tfvae.metrics.latent_units: active units count exactly the units whose posterior
mean moves with the data by more than the threshold, and the KL per dimension sums to the KL of
the ELBO."""

import numpy as np
import pytest

from tfvae import data, models
from tfvae.errors import InvalidInputError
from tfvae.metrics import latent_units

LATENT = 4


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", max_train=200)


def constructed_vae(ds):
    """A VAE whose units 0 and 1 follow the data, unit 2 barely (activity far below 0.01), unit 3 not at all.

    The encoder's last layer maps the hidden layer to (means, log-variances). Units 2 and 3 get
    log-variance 0 and, for unit 3, mean 0 for every image: q(z_3|x) is exactly the prior N(0, 1).
    """
    model = models.build(image_shape=ds.image_shape, latent_dim=LATENT, hidden_units=16, seed=1)
    layer = model.encoder.get_layer("parameters")
    kernel, bias = (w.copy() for w in layer.get_weights())
    rng = np.random.default_rng(0)
    kernel[:, :2] = rng.normal(0, 3.0, (kernel.shape[0], 2))
    kernel[:, 2] = rng.normal(0, 1e-4, kernel.shape[0])
    kernel[:, 3] = 0.0
    kernel[:, LATENT + 2:] = 0.0
    bias[2:] = 0.0  # zero mean for units 2, 3 and zero log-variance for units 2, 3 (bias[LATENT + 2:])
    bias[LATENT + 2:] = 0.0
    layer.set_weights([kernel, bias])
    return model


def test_active_units_counts_only_units_whose_mean_moves_with_the_data(digits):
    model = constructed_vae(digits)
    x = digits.binarized("test")
    activity = latent_units.unit_activity(model, x)
    assert activity.shape == (LATENT,)
    assert (activity[:2] > 0.01).all()
    assert 0 < activity[2] < 1e-4  # weights of size 1e-4 on tanh units: variance far below the threshold
    assert activity[3] == 0.0
    assert latent_units.active_units(model, x) == 2
    assert latent_units.active_units(model, x, threshold=0.0) == 3


def test_unit_activity_is_the_variance_of_posterior_means_over_images(digits):
    model = constructed_vae(digits)
    x = digits.binarized("test")
    means = model.encode(x).mean().numpy()
    # batch_size 7 splits the images unevenly: the batched result must equal the one-pass variance.
    np.testing.assert_allclose(latent_units.unit_activity(model, x, batch_size=7), means.var(axis=0, ddof=1),
                               rtol=1e-5)


def test_inactive_unit_has_zero_kl_and_the_kl_per_dimension_sums_to_the_total(digits):
    model = constructed_vae(digits)
    x = digits.binarized("test")
    per_dim = latent_units.mean_kl_per_dimension(model, x, batch_size=64)
    total = float(np.mean(model.elbo(x).kl.numpy()))
    assert per_dim.shape == (LATENT,)
    assert per_dim[3] == pytest.approx(0.0, abs=1e-7)  # q equals the prior exactly
    assert (per_dim >= 0).all()
    # float32 sums over ~300 images and 4 dimensions: 1e-5 relative covers the rounding.
    assert per_dim.sum() == pytest.approx(total, rel=1e-5)


def test_kl_per_dimension_sums_to_total_kl_of_a_random_model(digits):
    model = models.build(image_shape=digits.image_shape, latent_dim=6, hidden_units=16, seed=3)
    x = digits.binarized("validation")
    per_dim = latent_units.mean_kl_per_dimension(model, x)
    assert per_dim.sum() == pytest.approx(float(np.mean(model.elbo(x).kl.numpy())), rel=1e-5)


def test_unit_activity_needs_two_images(digits):
    model = constructed_vae(digits)
    with pytest.raises(InvalidInputError, match="at least 2"):
        latent_units.unit_activity(model, digits.binarized("test")[:1])
