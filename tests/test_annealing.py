"""Specifications of tfvae.annealing and its callbacks: the KL warm-up schedule of
{eq}`eq-kl-warmup` is linear from `start` to `target` over the warm-up and constant after it,
and KLWarmup really moves the model's `kl_weight` while Keras trains; the temperature of
{eq}`eq-temperature-schedule` decays to its floor, and TemperatureAnnealing follows the step count."""

import keras
import numpy as np
import pytest

from tfvae import annealing, data, models, training
from tfvae.errors import InvalidInputError


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", max_train=200)


def small_vae(ds):
    return models.build(image_shape=ds.image_shape, latent_dim=2, hidden_units=16)


class WeightProbe(keras.callbacks.Callback):
    """Reads a model variable (kl_weight by default) after every training batch: the value the step trained with."""

    def __init__(self, variable: str = "kl_weight"):
        super().__init__()
        self.variable = variable
        self.seen = []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(float(getattr(self.model, self.variable).numpy()))


def test_warmup_weight_rises_linearly_from_start_to_target_then_stays():
    weights = [annealing.warmup_weight(t, 4, start=0.2) for t in range(8)]
    # Exact arithmetic on a few floats: 1e-12 only absorbs rounding.
    np.testing.assert_allclose(weights[:5], np.linspace(0.2, 1.0, 5), atol=1e-12)
    assert weights[4:] == [1.0] * 4


def test_warmup_weight_reaches_a_target_other_than_one():
    assert annealing.warmup_weight(10, 5, target=4.0) == 4.0
    assert annealing.warmup_weight(2.5, 5, target=4.0) == pytest.approx(2.0)


@pytest.mark.parametrize("kwargs, message", [(dict(t=1, warmup=0), "warmup"), (dict(t=-1, warmup=3), "t must")])
def test_warmup_weight_rejects_bad_arguments(kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        annealing.warmup_weight(kwargs["t"], kwargs["warmup"])


def test_callback_rejects_bad_unit_and_models_without_kl_weight(digits):
    with pytest.raises(InvalidInputError, match="unit"):
        training.KLWarmup(3, unit="batch")
    autoencoder = models.build(kind="autoencoder", image_shape=digits.image_shape, latent_dim=2, hidden_units=16)
    with pytest.raises(InvalidInputError, match="kl_weight"):
        training.KLWarmup(3).set_model(autoencoder)


def test_epoch_warmup_sets_kl_weight_before_each_epoch(digits):
    training.set_seed(0)
    model = small_vae(digits)
    warmup, probe = training.KLWarmup(2), WeightProbe()
    training.fit(model, digits, epochs=4, batch_size=50, binarization="dynamic", validate=False,
                 steps_per_execution=1, callbacks=[warmup, probe], verbose=0)
    assert warmup.history == [(0, 0.0), (1, 0.5), (2, 1.0), (3, 1.0)]
    steps = len(probe.seen) // 4  # 200 images in batches of 50: 4 steps per epoch
    assert probe.seen == [0.0] * steps + [0.5] * steps + [1.0] * 2 * steps
    assert float(model.kl_weight.numpy()) == 1.0


def test_step_warmup_follows_the_optimizer_step_count(digits):
    training.set_seed(0)
    model = small_vae(digits)
    warmup, probe = training.KLWarmup(6, unit="step", start=0.4), WeightProbe()
    training.fit(model, digits, epochs=2, batch_size=50, binarization="dynamic", validate=False,
                 steps_per_execution=1, callbacks=[warmup, probe], verbose=0)
    expected = [annealing.warmup_weight(step, 6, start=0.4) for step in range(8)]
    np.testing.assert_allclose(probe.seen, expected, rtol=1e-6)  # float32 variable vs float64 schedule
    assert [t for t, _ in warmup.history] == list(range(8))


def test_kl_weight_scales_the_kl_term_of_the_training_loss(digits):
    model = small_vae(digits)
    x = digits.binarized("train")[:50]
    seed = np.array([3, 4], np.int32)
    model.kl_weight.assign(0.0)
    no_kl = model.loss_terms(x, seed=seed)
    model.kl_weight.assign(0.5)
    half_kl = model.loss_terms(x, seed=seed)
    # Same noise, so the terms agree; float32 sums of ~64 pixels: 1e-4 relative.
    np.testing.assert_allclose(no_kl["loss"], -np.mean(no_kl["reconstruction"]), rtol=1e-4)
    np.testing.assert_allclose(half_kl["loss"], -np.mean(half_kl["reconstruction"] - 0.5 * half_kl["kl"]), rtol=1e-4)
    np.testing.assert_allclose(no_kl["elbo"], half_kl["elbo"], rtol=1e-5)  # the reported ELBO ignores the weight


def test_step_warmup_updates_once_per_group_of_steps(digits):
    training.set_seed(0)
    model = small_vae(digits)
    warmup, probe = training.KLWarmup(4, unit="step"), WeightProbe()
    # 4 steps per epoch in groups of 2: Keras calls the callbacks before steps 0, 2, 4 and 6.
    training.fit(model, digits, epochs=2, batch_size=50, binarization="dynamic", validate=False,
                 steps_per_execution=2, callbacks=[warmup, probe], verbose=0)
    assert warmup.history == [(0, 0.0), (2, 0.5), (4, 1.0), (6, 1.0)]
    assert probe.seen == [0.0, 0.5, 1.0, 1.0]


def test_temperature_decays_exponentially_to_its_floor():
    taus = [annealing.temperature(t, 0.1, start=2.0, minimum=0.5) for t in range(0, 40, 5)]
    expected = np.maximum(0.5, 2.0 * np.exp(-0.1 * np.arange(0, 40, 5)))
    np.testing.assert_allclose(taus, expected, rtol=1e-12)
    assert taus[-1] == 0.5 and annealing.temperature(10**6, 0.0) == 1.0


@pytest.mark.parametrize("kwargs, message", [(dict(rate=-1.0), "rate"), (dict(rate=0.1, minimum=0.0), "minimum"),
                                             (dict(rate=0.1, start=float("inf")), "start")])
def test_temperature_rejects_bad_arguments(kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        annealing.temperature(1, **kwargs)


def test_temperature_annealing_follows_the_optimizer_step_count(digits):
    training.set_seed(0)
    model = models.build(kind="categorical_vae", image_shape=digits.image_shape, latent_dim=2, hidden_units=16,
                         extra={"categories": 3})
    annealer, probe = training.TemperatureAnnealing(0.2, minimum=0.4), WeightProbe("temperature")
    training.fit(model, digits, epochs=2, batch_size=50, binarization="dynamic", validate=False,
                 steps_per_execution=1, callbacks=[annealer, probe], verbose=0)
    expected = [annealing.temperature(step, 0.2, minimum=0.4) for step in range(8)]
    np.testing.assert_allclose(probe.seen, expected, rtol=1e-6)  # float32 variable vs float64 schedule
    with pytest.raises(InvalidInputError, match="temperature"):
        training.TemperatureAnnealing(0.1).set_model(small_vae(digits))
