"""Categorical latents and gradients through them (chapter "Discrete latent codes").

A categorical z with K categories is written one-hot, z in {e_1, ..., e_K}, with
probabilities pi = softmax(logits).

* `gumbel_max`: an exact sample, onehot(argmax_k (logits_k + g_k)) with g_k ~ Gumbel(0, 1), {eq}`eq-gumbel-max`.
* `gumbel_softmax`: the relaxed sample softmax((logits + g) / tau), {eq}`eq-gumbel-softmax`,
  a differentiable function of the logits that tends to the Gumbel-max sample as tau -> 0.
* `straight_through`: the hard sample forward, the relaxed sample's gradient backward, {eq}`eq-straight-through`.
* `kl_to_uniform`: KL(Cat(pi) || Cat(1/K)) = sum_k pi_k log pi_k + log K, {eq}`eq-categorical-kl`.
* `exact_gradient`, `score_function_gradient`, `relaxed_gradient`: the gradient of E_Cat(pi)[f(z)]
  with respect to the logits, exactly (a sum over the K categories), by the score function
  ({eq}`eq-score-function`), and through the relaxation, with or without straight-through.
  The last two return many independent estimates, so a page can measure their bias and variance.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import tensorflow as tf

from tfvae import checks

# Uniform draws are kept in [TINY, 1) so that -log(-log u) stays finite.
TINY = float(np.finfo(np.float32).tiny)


def _logits(logits):
    logits = tf.convert_to_tensor(logits, tf.float32)
    if logits.shape.rank is not None and logits.shape.rank < 1:
        raise checks.InvalidInputError(f"logits need a last axis of categories, got shape {logits.shape}")
    return logits


def _temperature(temperature):
    if isinstance(temperature, (int, float)) and not (math.isfinite(temperature) and temperature > 0):
        raise checks.InvalidInputError(f"temperature must be a finite number > 0, got {temperature}")
    return tf.convert_to_tensor(temperature, tf.float32)


def gumbel_noise(shape, seed=None):
    """g = -log(-log u), u ~ Uniform(0, 1): standard Gumbel noise, CDF F(g) = exp(-exp(-g)).

    A stateless draw names its algorithm: in an XLA-compiled step on a CPU, TensorFlow's
    default ("auto_select") draws the same numbers as Philox about ten times more slowly.
    """
    u = (tf.random.uniform(shape, minval=TINY, maxval=1.0) if seed is None
         else tf.random.stateless_uniform(shape, seed=seed, minval=TINY, maxval=1.0, alg="philox"))
    return -tf.math.log(-tf.math.log(u))


def gumbel_max(logits, seed=None, noise=None):
    """An exact sample of Cat(softmax(logits)), one-hot: {eq}`eq-gumbel-max`.

    Shapes: logits (..., K) -> (..., K). `noise` (Gumbel, same shape) replaces the draw,
    so the hard and the relaxed sample of one draw can be compared.
    """
    logits = _logits(logits)
    noise = gumbel_noise(tf.shape(logits), seed) if noise is None else noise
    return tf.one_hot(tf.argmax(logits + noise, axis=-1), tf.shape(logits)[-1], dtype=tf.float32)


def gumbel_softmax(logits, temperature, seed=None, noise=None):
    """The relaxed sample y = softmax((logits + g) / tau), {eq}`eq-gumbel-softmax` (Jang et al.; Maddison et al.: Concrete).

    A point of the simplex, differentiable in the logits; as tau -> 0 it tends to the
    one-hot `gumbel_max` sample of the same noise. Shapes: logits (..., K) -> (..., K).
    """
    logits = _logits(logits)
    noise = gumbel_noise(tf.shape(logits), seed) if noise is None else noise
    return tf.nn.softmax((logits + noise) / _temperature(temperature), axis=-1)


def straight_through(relaxed):
    """onehot(argmax y) in the forward pass, the gradient of y in the backward pass: {eq}`eq-straight-through`.

    The value is a genuine one-hot sample (the Gumbel-max sample when y is `gumbel_softmax`
    of the same noise); the gradient is the relaxed sample's, so it is biased at every temperature.
    """
    relaxed = tf.convert_to_tensor(relaxed, tf.float32)
    hard = tf.one_hot(tf.argmax(relaxed, axis=-1), tf.shape(relaxed)[-1], dtype=relaxed.dtype)
    return relaxed + tf.stop_gradient(hard - relaxed)


def kl_to_uniform(logits):
    """KL(Cat(softmax(logits)) || Cat(1/K, ..., 1/K)) = sum_k pi_k log pi_k + log K, {eq}`eq-categorical-kl`.

    Between 0 (pi uniform) and log K (pi one-hot). Shapes: (..., K) -> (...).
    """
    logits = _logits(logits)
    log_pi = tf.nn.log_softmax(logits, axis=-1)
    k = tf.cast(tf.shape(logits)[-1], tf.float32)
    return tf.reduce_sum(tf.exp(log_pi) * log_pi, axis=-1) + tf.math.log(k)


# --- the gradient of E_Cat(pi)[f(z)] with respect to the logits ---------------------------
def _vector(logits):
    logits = _logits(logits)
    if logits.shape.rank != 1:
        raise checks.InvalidInputError(f"logits must be a vector of K categories, got shape {logits.shape}")
    return logits


def exact_gradient(f: Callable, logits):
    """grad E_Cat(pi)[f(z)] = grad sum_k pi_k f(e_k), by summing over the K categories.

    f: (..., K) one-hot or relaxed points -> (...). Shapes: logits (K,) -> (K,).
    """
    logits = _vector(logits)
    corners = tf.eye(tf.shape(logits)[0])
    with tf.GradientTape() as tape:
        tape.watch(logits)
        expectation = tf.reduce_sum(tf.nn.softmax(logits) * f(corners))
    return tape.gradient(expectation, logits)


def score_function_gradient(f: Callable, logits, *, n_samples: int, n_estimates: int = 1, seed=None):
    """The score-function estimator, {eq}`eq-score-function`, for a categorical:
    1/L sum_l f(z_l) grad log pi_{k_l}, z_l = e_{k_l} ~ Cat(pi). Unbiased.

    Returns (n_estimates, K): independent estimates, each averaging `n_samples` samples.
    """
    logits = _vector(logits)
    n_samples = checks.positive_int(n_samples, "n_samples")
    n_estimates = checks.positive_int(n_estimates, "n_estimates")
    rows = tf.tile(logits[None], [n_estimates, 1])  # one copy of the logits per estimate
    with tf.GradientTape() as tape:
        tape.watch(rows)
        z = tf.stop_gradient(gumbel_max(tf.broadcast_to(rows, (n_samples,) + tuple(rows.shape)), seed=seed))
        log_q = tf.reduce_sum(z * tf.nn.log_softmax(rows), axis=-1)  # (L, R)
        surrogate = tf.reduce_sum(tf.reduce_mean(tf.stop_gradient(f(z)) * log_q, axis=0))
    return tape.gradient(surrogate, rows)


def relaxed_gradient(f: Callable, logits, temperature, *, n_samples: int, n_estimates: int = 1, seed=None,
                     hard: bool = False):
    """The Gumbel-softmax estimator: 1/L sum_l grad f(y_l), y_l = `gumbel_softmax`(logits, tau).

    With `hard`, f sees the straight-through sample instead ({eq}`eq-straight-through`):
    f(onehot) forward, the relaxed gradient backward. Both are biased: the first estimates
    the gradient of E[f(y)] under the relaxation, not of E[f(z)].

    Returns (n_estimates, K).
    """
    logits = _vector(logits)
    n_samples = checks.positive_int(n_samples, "n_samples")
    n_estimates = checks.positive_int(n_estimates, "n_estimates")
    rows = tf.tile(logits[None], [n_estimates, 1])
    with tf.GradientTape() as tape:
        tape.watch(rows)
        y = gumbel_softmax(tf.broadcast_to(rows, (n_samples,) + tuple(rows.shape)), temperature, seed=seed)
        if hard:
            y = straight_through(y)
        objective = tf.reduce_sum(tf.reduce_mean(f(y), axis=0))
    return tape.gradient(objective, rows)
