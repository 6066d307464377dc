"""Specifications of tfvae.metrics.probes: a linear probe reads a linearly coded class and cannot
read noise; the pixel classifier learns the 8x8 digits and its confidence is its largest probability."""

import numpy as np
import pytest

from tfvae import data
from tfvae.errors import InvalidInputError
from tfvae.metrics import probes


def _blobs(n, seed):
    # Three classes whose first feature is the class times 5, plus unit noise: linearly separable.
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(size=(n, 4))
    x[:, 0] += 5.0 * y
    return x, y


def test_a_linear_probe_reads_a_linear_code_and_not_noise():
    x, y = _blobs(600, 0)
    x_test, y_test = _blobs(300, 1)
    accuracy = probes.linear_probe_accuracy(x, y, x_test, y_test, n_labels=100, draws=3)
    assert accuracy.shape == (3,) and accuracy.min() > 0.97
    noise_test = np.random.default_rng(2).normal(size=x_test.shape)
    chance = probes.linear_probe_accuracy(np.random.default_rng(3).normal(size=x.shape), y, noise_test, y_test,
                                          n_labels=600)
    assert chance[0] < 0.5


def test_the_draws_use_different_labelled_subsets():
    x, y = _blobs(600, 0)
    x[:, 0] += np.random.default_rng(5).normal(scale=6.0, size=len(x))  # overlapping classes: subsets matter
    x_test, y_test = _blobs(300, 1)
    accuracy = probes.linear_probe_accuracy(x, y, x_test, y_test, n_labels=20, draws=4, seed=0)
    assert len(np.unique(accuracy)) > 1


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


def test_the_pixel_classifier_learns_the_digits_and_its_confidence_is_its_top_probability(digits):
    judge = probes.pixel_classifier(digits.train.x, digits.train.y, n_classes=10, epochs=30, batch_size=32)
    p = probes.class_probabilities(judge, digits.test.x)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert np.mean(p.argmax(axis=1) == digits.test.y) > 0.85
    np.testing.assert_allclose(probes.confidence(judge, digits.test.x), p.max(axis=1))
    np.testing.assert_array_equal(probes.predicted_classes(judge, digits.test.x), p.argmax(axis=1))
    # Accuracy against the labels, and against any other target: the classifier's own classes score 1.
    assert probes.accuracy(judge, digits.test.x, digits.test.y) == np.mean(p.argmax(axis=1) == digits.test.y)
    assert probes.accuracy(judge, digits.test.x, p.argmax(axis=1)) == 1.0


@pytest.mark.parametrize("call, message", [
    (lambda: probes.linear_probe_accuracy(np.zeros((5, 2)), np.arange(5), np.zeros((3, 3)), np.arange(3), n_labels=5),
     "differ in size"),
    (lambda: probes.linear_probe_accuracy(np.zeros((5, 2)), np.arange(5), np.zeros((3, 2)), np.arange(3), n_labels=6),
     "only 5 training items"),
    (lambda: probes.linear_probe_accuracy(np.zeros((5, 2)), np.zeros(5, int), np.zeros((3, 2)), np.arange(3),
                                          n_labels=5), "one class"),
    (lambda: probes.linear_probe_accuracy(np.full((5, 2), np.nan), np.arange(5), np.zeros((3, 2)), np.arange(3),
                                          n_labels=5), "NaN"),
    (lambda: probes.linear_probe_accuracy(np.zeros((5, 2)), np.arange(4), np.zeros((3, 2)), np.arange(3), n_labels=5),
     "train_labels must be 5 integer labels"),
    (lambda: probes.pixel_classifier(np.zeros((4, 3, 3)), np.array([0, 1, 2, 3]), n_classes=3), "n_classes is 3"),
    (lambda: probes.accuracy(lambda x: x.reshape(len(x), -1), np.zeros((4, 3, 3)), np.arange(3)),
     "labels must be 4 integer labels"),
    (lambda: probes.accuracy(lambda x: x.reshape(len(x), -1), np.zeros((4, 3, 3)), np.zeros(4)),
     "labels must be 4 integer labels"),
])
def test_bad_input_is_refused_with_a_message(call, message):
    with pytest.raises(InvalidInputError, match=message):
        call()
