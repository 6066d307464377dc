"""The class-conditional VAE and M2 (tfvae.models.semi_supervised): their bounds, their training, their refusals."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfvae import cli, data, evaluation, models, serialization, training
from tfvae.errors import InvalidInputError

SMALL = dict(image_shape=(8, 8), latent_dim=3, hidden_units=16)


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", seed=0)


def m2(labelled=20, **extra):
    return models.build(kind="m2", **SMALL, extra={"labelled": labelled, **extra})


def near_deterministic(model):
    """Make q(z|x, y) a near point mass (log-variance -30), so that one sample of z is its mean."""
    kernel, bias = model.encoder.parameters.kernel, model.encoder.parameters.bias
    d = model.latent_dim
    kernel.assign(tf.concat([kernel[:, :d], tf.zeros_like(kernel[:, d:])], axis=1))
    bias.assign(tf.concat([bias[:d], tf.fill([d], -30.0)], axis=0))


def test_the_encoder_for_every_class_at_once_equals_one_class_at_a_time(digits):
    model = m2()
    x = digits.test.x[:7]
    every = model.encoder.all_classes(x).numpy()
    for c in range(model.classes):
        one = model.encoder(x, tf.one_hot(np.full(7, c), model.classes)).numpy()
        np.testing.assert_allclose(every[:, c], one, rtol=1e-5, atol=1e-5)


def test_the_unlabelled_bound_sums_the_labelled_bounds_under_q_y_plus_its_entropy(digits):
    model = m2()
    near_deterministic(model)
    x = (digits.test.x[:6] > 0.5).astype(np.float32)
    seed = tf.constant([3, 4])
    per_class = np.stack([model.labelled_bound(x, np.full(6, c), seed=seed).numpy() for c in range(10)], axis=1)
    q = model.classify(x).probs_parameter().numpy()
    expected = (q * per_class).sum(axis=1) - (q * np.log(q)).sum(axis=1)
    np.testing.assert_allclose(model.unlabelled_bound(x, seed=seed).numpy(), expected, rtol=1e-4)
    # ... and is a lower bound on log p(x) = log sum_y exp(L(x, y)) for these point-mass posteriors (Jensen).
    log_px = np.log(np.exp(per_class - per_class.max(1, keepdims=True)).sum(1)) + per_class.max(1)
    assert np.all(model.unlabelled_bound(x, seed=seed).numpy() <= log_px + 1e-4)


def test_the_labelled_bound_adds_log_p_y_to_the_conditional_elbo(digits):
    model = m2()
    x, y = (digits.test.x[:5] > 0.5).astype(np.float32), digits.test.y[:5]
    seed = tf.constant([1, 2])
    elbo, reconstruction, kl = model.conditional_elbo(x, y, seed=seed)
    np.testing.assert_allclose(elbo.numpy(), (reconstruction - kl).numpy(), rtol=1e-6)
    np.testing.assert_allclose(model.labelled_bound(x, y, seed=seed).numpy(), elbo.numpy() - math.log(10), rtol=1e-6)


def test_a_conditional_vae_trained_on_labels_explains_an_image_best_with_its_own_label(digits):
    training.set_seed(0)
    model = models.build(kind="cvae", **SMALL)
    training.fit(model, digits, epochs=40, binarization="static", verbose=0, validate=False)
    x = digits.evaluation_images("test", "static")[:200]
    y = digits.test.y[:200]
    seed = tf.constant([0, 1])
    own = np.mean([model.conditional_elbo(x, y, seed=seed)[0].numpy().mean() for _ in range(5)])
    wrong = np.mean([model.conditional_elbo(x, (y + 1 + i) % 10, seed=seed)[0].numpy().mean() for i in range(5)])
    assert own > wrong + 1.0, (own, wrong)
    images = model.sample(10, seed=tf.constant([2, 3]), classes=np.arange(10)).numpy()
    assert images.shape == (10, 8, 8) and np.all((images >= 0) & (images <= 1))


def test_m2_learns_from_a_few_labels_and_keeps_them_through_save_and_load(digits, tmp_path):
    training.set_seed(0)
    index = data.balanced_labelled_subset(digits.train.y, 50, seed=0)
    model = m2(labelled=50, labelled_binarization="none", classifier_weight=10.0)
    model.set_labelled(digits.train.x[index], digits.train.y[index])
    history = training.fit(model, digits, epochs=15, binarization="none", verbose=0, validate=False)
    assert history["elbo"][-1] > history["elbo"][0]
    error = evaluation.classification_error(model, digits)
    assert error < 0.5, error  # chance is 0.9
    serialization.save(model, tmp_path / "m2")
    loaded = serialization.load(tmp_path / "m2")
    np.testing.assert_array_equal(loaded.labelled_classes.numpy(), digits.train.y[index])
    np.testing.assert_array_equal(loaded.predict_classes(digits.test.x), model.predict_classes(digits.test.x))


def test_labelled_minibatches_come_from_the_stored_set_and_are_binarized_afresh(digits):
    model = m2(labelled=20)
    index = data.balanced_labelled_subset(digits.train.y, 20, seed=1)
    model.set_labelled(digits.train.x[index], digits.train.y[index])
    x1, y1 = model.labelled_minibatch(tf.constant([0, 1]))
    x2, _ = model.labelled_minibatch(tf.constant([0, 2]))
    assert set(np.unique(x1.numpy())) <= {0.0, 1.0}
    assert not np.array_equal(x1.numpy(), x2.numpy())
    assert set(y1.numpy()) <= set(digits.train.y[index])


def test_the_balanced_subset_has_equal_classes_and_depends_only_on_the_seed(digits):
    a = data.balanced_labelled_subset(digits.train.y, 30, seed=4)
    np.testing.assert_array_equal(np.bincount(digits.train.y[a]), np.full(10, 3))
    np.testing.assert_array_equal(a, data.balanced_labelled_subset(digits.train.y, 30, seed=4))
    assert not np.array_equal(a, data.balanced_labelled_subset(digits.train.y, 30, seed=5))
    with pytest.raises(InvalidInputError, match="cannot be split evenly over 10 classes"):
        data.balanced_labelled_subset(digits.train.y, 25, seed=0)
    with pytest.raises(InvalidInputError, match="fewer than"):
        data.balanced_labelled_subset(np.array([0, 0, 1]), 4, seed=0)


@pytest.mark.parametrize("images, labels, message", [
    (np.zeros((19, 8, 8)), np.zeros(19, int), "holds 20 labelled images"),
    (np.zeros((20, 8, 8)), np.full(20, 10), r"labels must be whole numbers in 0 \.\. 9"),
    (np.zeros((20, 8, 8)), np.zeros(20), r"labels must be whole numbers"),
    (np.full((20, 8, 8), np.nan), np.zeros(20, int), "NaN"),
    (np.zeros((20, 7, 8)), np.zeros(20, int), "expected"),
])
def test_bad_labelled_sets_are_refused(images, labels, message):
    model = m2()
    with pytest.raises(InvalidInputError, match=message):
        model.set_labelled(images, labels)


@pytest.mark.parametrize("kind, settings, message", [
    ("m2", {"extra": {}}, "labelled"),
    ("m2", {"extra": {"labelled": 10, "classifier_weight": -1.0}}, "classifier_weight"),
    ("m2", {"extra": {"labelled": 10, "labelled_binarization": "static"}}, "labelled_binarization"),
    ("m2", {"extra": {"labelled": 10}, "beta": 2.0}, "beta must be 1"),
    ("cvae", {"architecture": "conv", "image_shape": (8, 8)}, "MLP networks only"),
    ("cvae", {"extra": {"classes": 1}}, "at least 2"),
    ("cvae", {"extra": {"activation": "wobbly"}}, "unknown activation"),
    ("cvae", {"objective": "iwae"}, "trains on 'elbo'"),
])
def test_bad_settings_are_refused(kind, settings, message):
    config = {**SMALL, **settings}
    with pytest.raises(InvalidInputError, match=message):
        models.build(kind=kind, **config)


def test_labels_outside_the_classes_are_refused_when_sampling():
    model = models.build(kind="cvae", **SMALL)
    with pytest.raises(InvalidInputError, match=r"labels must be in 0 \.\. 9"):
        model.sample(2, classes=[3, 10])
    with pytest.raises(InvalidInputError, match="one label per image"):
        model.sample(3, classes=[1, 2])


def test_the_command_trains_and_evaluates_m2(tmp_path, capsys):
    out = tmp_path / "m2"
    assert cli.main(["train", "--dataset", "digits", "--labelled", "50", "--classifier-weight", "10",
                     "--latent-dim", "3", "--hidden-units", "16", "--epochs", "2", "--quiet", "--out", str(out)]) == 0
    model = serialization.load(out / "model")
    assert model.config.kind == "m2" and model.config.extra["classifier_weight"] == 10.0
    assert np.bincount(model.labelled_classes.numpy()).tolist() == [5] * 10
    capsys.readouterr()
    assert cli.main(["evaluate", str(out)]) == 0
    assert "error of q(y|x)" in capsys.readouterr().out


def test_a_labelled_count_the_classes_cannot_share_is_refused_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "m2"
    assert cli.main(["train", "--dataset", "digits", "--labelled", "55", "--epochs", "1", "--quiet",
                     "--out", str(out)]) == 2
    assert "cannot be split evenly over 10 classes" in capsys.readouterr().err
    assert not out.exists()
