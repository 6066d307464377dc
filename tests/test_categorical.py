"""Specifications of tfvae.categorical: the Gumbel-max trick samples Cat(pi) exactly, the
Gumbel-softmax relaxation tends to it as tau -> 0, straight-through is one-hot forward and
relaxed backward, the categorical KL, and the three gradients of E_Cat(pi)[f(z)]."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfvae import categorical
from tfvae.errors import InvalidInputError

LOGITS = np.log(np.array([0.5, 0.25, 0.15, 0.1], np.float32))
WEIGHTS = tf.constant([1.0, -2.0, 0.5, 3.0])


def f(z):
    """A nonlinear function of a one-hot or relaxed code: (..., 4) -> (...)."""
    return (tf.reduce_sum(z * WEIGHTS, axis=-1) + 1.0) ** 2


def test_gumbel_noise_has_the_gumbel_cdf():
    g = categorical.gumbel_noise((200_000,), seed=tf.constant([1, 2])).numpy()
    for x in (-1.0, 0.0, 1.0, 3.0):
        expected = math.exp(-math.exp(-x))
        # 200,000 draws: the empirical CDF's standard error is below 0.0012; 5e-3 is four of them.
        assert abs(np.mean(g <= x) - expected) < 5e-3


def test_gumbel_max_samples_the_categorical_exactly():
    n = 200_000
    z = categorical.gumbel_max(np.tile(LOGITS, (n, 1)), seed=tf.constant([3, 4])).numpy()
    assert set(np.unique(z)) == {0.0, 1.0} and np.all(z.sum(axis=-1) == 1)
    frequencies = z.mean(axis=0)
    probabilities = np.exp(LOGITS) / np.exp(LOGITS).sum()
    standard_errors = np.sqrt(probabilities * (1 - probabilities) / n)
    assert np.all(np.abs(frequencies - probabilities) < 4 * standard_errors)


def test_gumbel_softmax_is_on_the_simplex_and_hardens_to_the_gumbel_max_sample():
    noise = categorical.gumbel_noise((1000, 4), seed=tf.constant([5, 6]))
    logits = np.tile(LOGITS, (1000, 1))
    hard = categorical.gumbel_max(logits, noise=noise).numpy()
    previous_gap = None
    for tau in (2.0, 1.0, 0.5, 0.1, 0.01):
        y = categorical.gumbel_softmax(logits, tau, noise=noise).numpy()
        np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-5)
        assert np.all(y >= 0)
        assert np.array_equal(y.argmax(axis=-1), hard.argmax(axis=-1))  # softmax keeps the arg max
        gap = np.abs(y - hard).sum(axis=-1).mean()
        assert previous_gap is None or gap < previous_gap
        previous_gap = gap
    assert previous_gap < 0.05


def test_straight_through_is_one_hot_forward_and_relaxed_backward():
    logits = tf.constant(LOGITS)
    noise = categorical.gumbel_noise((4,), seed=tf.constant([7, 8]))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        relaxed = categorical.gumbel_softmax(logits, 0.7, noise=noise)
        through = categorical.straight_through(relaxed)
        soft_value, hard_value = f(relaxed), f(through)
    np.testing.assert_array_equal(through.numpy(), categorical.gumbel_max(LOGITS, noise=noise).numpy())
    # Same gradient path, evaluated at different points: f' at the one-hot point times the softmax's Jacobian.
    jacobian = tape.jacobian(relaxed, logits).numpy()
    at_hard = 2 * (float(tf.reduce_sum(through * WEIGHTS)) + 1.0) * WEIGHTS.numpy()
    np.testing.assert_allclose(tape.gradient(hard_value, logits).numpy(), at_hard @ jacobian, rtol=1e-4, atol=1e-6)
    assert not np.allclose(tape.gradient(soft_value, logits).numpy(), tape.gradient(hard_value, logits).numpy())


def test_kl_to_uniform_is_the_sum_over_categories_and_spans_zero_to_log_k():
    pi = np.exp(LOGITS) / np.exp(LOGITS).sum()
    expected = float(np.sum(pi * np.log(pi * 4)))
    assert float(categorical.kl_to_uniform(LOGITS)) == pytest.approx(expected, abs=1e-6)
    assert float(categorical.kl_to_uniform(np.zeros(4))) == pytest.approx(0.0, abs=1e-6)
    assert float(categorical.kl_to_uniform(np.array([40.0, 0, 0, 0]))) == pytest.approx(math.log(4), abs=1e-5)


def test_exact_gradient_matches_the_analytic_softmax_gradient():
    pi = np.exp(LOGITS) / np.exp(LOGITS).sum()
    values = f(tf.eye(4)).numpy()
    expected = pi * (values - np.sum(pi * values))  # d/dl_j sum_k pi_k f_k = pi_j (f_j - E f)
    np.testing.assert_allclose(categorical.exact_gradient(f, LOGITS).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_score_function_is_unbiased_and_the_relaxation_is_not():
    exact = categorical.exact_gradient(f, LOGITS).numpy()
    n = 20_000

    def mean_and_se(g):
        g = g.numpy()
        return g.mean(axis=0), g.std(axis=0, ddof=1) / np.sqrt(len(g))

    mean, se = mean_and_se(categorical.score_function_gradient(f, LOGITS, n_samples=1, n_estimates=n,
                                                               seed=tf.constant([9, 1])))
    assert np.all(np.abs(mean - exact) < 4.5 * se)
    mean, se = mean_and_se(categorical.relaxed_gradient(f, LOGITS, 1.0, n_samples=1, n_estimates=n,
                                                        seed=tf.constant([9, 2])))
    assert np.max(np.abs(mean - exact) / se) > 10  # at tau = 1 the bias is many standard errors


def test_estimates_have_one_row_per_estimate_and_average_their_samples():
    one = categorical.relaxed_gradient(f, LOGITS, 0.5, n_samples=1, n_estimates=4000, seed=tf.constant([2, 2]))
    many = categorical.relaxed_gradient(f, LOGITS, 0.5, n_samples=16, n_estimates=4000, seed=tf.constant([2, 3]))
    assert one.shape == many.shape == (4000, 4)
    ratio = np.var(one.numpy(), axis=0).sum() / np.var(many.numpy(), axis=0).sum()
    assert 12 < ratio < 21  # averaging 16 independent samples divides the variance by 16


@pytest.mark.parametrize("call, message", [
    (lambda: categorical.gumbel_softmax(LOGITS, 0.0), "temperature"),
    (lambda: categorical.gumbel_softmax(LOGITS, float("nan")), "temperature"),
    (lambda: categorical.exact_gradient(f, np.zeros((2, 4))), "vector"),
    (lambda: categorical.score_function_gradient(f, LOGITS, n_samples=0), "n_samples"),
    (lambda: categorical.relaxed_gradient(f, LOGITS, 1.0, n_samples=1, n_estimates=0), "n_estimates"),
    (lambda: categorical.kl_to_uniform(3.0), "last axis"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(InvalidInputError, match=message):
        call()
