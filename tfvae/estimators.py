"""Monte Carlo estimators of Part I: the naive estimate of the evidence and two gradient estimators.

* `naive_log_evidence`: log p(x) from prior samples, the integral of {eq}`eq-marginal`
  done by brute force (chapter "Latent-variable models").
* `score_function_gradient`: the score-function (REINFORCE) estimator, {eq}`eq-score-function`.
* `reparameterization_gradient`: the reparameterization (pathwise) estimator, {eq}`eq-reparam`.

Both gradient estimators estimate the gradient of E_q[f(z)] with respect to the
parameters (mean, log standard deviation) of a diagonal Gaussian q = N(mean, diag exp(2 log_std)),
and return `n_estimates` independent estimates, each averaging `n_samples` samples, so
a chapter can measure their mean and variance side by side.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import checks

tfd = tfp.distributions


def naive_log_evidence(x, decode: Callable, prior, *, n_samples: int, seed=None):
    """log p(x) ~ log (1/S sum_s p(x | z_s)), z_s ~ p(z): {eq}`eq-marginal` by simple Monte Carlo.

    Unbiased for p(x) itself, but nearly every prior sample explains x badly when z or x
    has many dimensions, so the estimate is ruled by the few lucky samples and its variance grows
    quickly with dimension.

    Args:
      x: data, shape (batch, *event_shape).
      decode: z (S, batch, d) -> p(x|z) with batch shape (S, batch).
      prior: p(z), event shape (d,).
      seed: None or a stateless seed (int32 tensor of shape (2,)).
    Returns:
      (batch,) estimates of log p(x), in nats.
    """
    n_samples = checks.positive_int(n_samples, "n_samples")
    x = tf.convert_to_tensor(x, prior.dtype)
    z = prior.sample((n_samples, x.shape[0]), seed=seed)
    return tf.reduce_logsumexp(decode(z).log_prob(x), axis=0) - math.log(n_samples)


class GradientEstimates(NamedTuple):
    """Independent gradient estimates of E_q[f(z)]: each field has shape (n_estimates, d)."""

    mean: tf.Tensor
    log_std: tf.Tensor


def _tiled(mean, log_std, n_estimates):
    mean = tf.convert_to_tensor(mean, tf.float32)
    log_std = tf.convert_to_tensor(log_std, tf.float32)
    if mean.shape.rank != 1 or log_std.shape != mean.shape:
        raise checks.InvalidInputError(
            f"mean and log_std must be vectors of the same length, got shapes {mean.shape} and {log_std.shape}")
    n_estimates = checks.positive_int(n_estimates, "n_estimates")
    # One copy of the parameters per estimate: each estimate's gradient lands in its own row.
    return tf.tile(mean[None], [n_estimates, 1]), tf.tile(log_std[None], [n_estimates, 1])


def score_function_gradient(f: Callable, mean, log_std, *, n_samples: int, n_estimates: int = 1,
                            seed=None, f_uses_q: bool = False) -> GradientEstimates:
    """The score-function estimator, {eq}`eq-score-function`:

        grad E_q[f(z)] ~ 1/L sum_l f(z_l) grad log q(z_l),   z_l ~ q.

    The samples are constants (`tf.stop_gradient`); the gradient reaches the parameters
    only through log q. It needs f's values, never f's gradient.

    When f itself depends on q's parameters (`f_uses_q`: f is called as f(z, q)), as the
    ELBO's integrand log p(x, z) - log q(z) does, the general form {eq}`eq-score-function-general` adds the average of grad f at fixed z_l.

    Args:
      f: z (..., d) -> (...), the function whose expectation is differentiated; with
        `f_uses_q`, (z, q) -> (...), q the `tfd.Normal` with batch shape (..., d).
      mean, log_std: (d,) parameters of q.
      n_samples: L, samples per estimate.
      n_estimates: R, independent estimates.
    Returns:
      GradientEstimates with fields of shape (R, d).
    """
    n_samples = checks.positive_int(n_samples, "n_samples")
    mean, log_std = _tiled(mean, log_std, n_estimates)
    with tf.GradientTape() as tape:
        tape.watch([mean, log_std])
        q = tfd.Normal(mean, tf.exp(log_std))
        z = tf.stop_gradient(q.sample(n_samples, seed=seed))  # (L, R, d)
        log_q = tf.reduce_sum(q.log_prob(z), axis=-1)  # (L, R)
        values = f(z, q) if f_uses_q else f(z)
        # With f_uses_q, `values` keeps its own path to the parameters: the second term of the general form.
        surrogate = tf.reduce_sum(tf.reduce_mean(tf.stop_gradient(values) * log_q + (values if f_uses_q else 0.0),
                                                 axis=0))
    grad_mean, grad_log_std = tape.gradient(surrogate, [mean, log_std])
    return GradientEstimates(grad_mean, grad_log_std)


def reparameterization_gradient(f: Callable, mean, log_std, *, n_samples: int, n_estimates: int = 1,
                                seed=None, f_uses_q: bool = False) -> GradientEstimates:
    """The reparameterization estimator, {eq}`eq-reparam`:

        grad E_q[f(z)] ~ 1/L sum_l grad f(mean + exp(log_std) * eps_l),   eps_l ~ N(0, I).

    The noise is drawn first and the sample is a differentiable function of the parameters,
    so the tape follows the gradient of f itself through z (and, with `f_uses_q`, through
    f's own dependence on q's parameters as well).

    Shapes as in `score_function_gradient`.
    """
    n_samples = checks.positive_int(n_samples, "n_samples")
    mean, log_std = _tiled(mean, log_std, n_estimates)
    eps = tf.random.stateless_normal((n_samples,) + tuple(mean.shape), seed=seed) if seed is not None \
        else tf.random.normal((n_samples,) + tuple(mean.shape))
    with tf.GradientTape() as tape:
        tape.watch([mean, log_std])
        z = mean + tf.exp(log_std) * eps  # (L, R, d)
        values = f(z, tfd.Normal(mean, tf.exp(log_std))) if f_uses_q else f(z)
        objective = tf.reduce_sum(tf.reduce_mean(values, axis=0))
    grad_mean, grad_log_std = tape.gradient(objective, [mean, log_std])
    return GradientEstimates(grad_mean, grad_log_std)
