"""The objectives of the book, each the code of one equation.

Equation labels refer to the book's chapters:

* {eq}`eq-kl-diag` and {eq}`eq-kl-std-normal` (chapter "The KL between Gaussians"):
  `gaussian_kl` (and its terms, `gaussian_kl_terms`), `standard_normal_kl`.
* {eq}`eq-elbo-recon-kl`, {eq}`eq-sgvb-mc` and {eq}`eq-sgvb-analytic` (chapters "The ELBO"
  and "AEVB"): `elbo`.
* {eq}`eq-wake` and {eq}`eq-sleep` (chapter "Reproducing Kingma & Welling's experiments"):
  `wake_sleep`, the algorithm AEVB is compared with.
* {eq}`eq-iwae` (chapter "Tighter bounds"): `importance_weighted_bound`.
* {eq}`eq-is-loglik`: `marginal_log_likelihood`.

Every function works on per-example values: an input batch of shape (batch, ...) gives
an output of shape (batch,), in nats. Averaging over a batch is left to the caller.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import checks

tfd = tfp.distributions


def gaussian_kl_terms(mean_q, log_var_q, mean_p, log_var_p):
    """The terms of {eq}`eq-kl-diag` before the sum over j: the KL of each coordinate.

    KL_j = 1/2 [ exp(d_j) - 1 - d_j + (mean_q - mean_p)_j^2 exp(-log_var_p_j) ],
    with d = log_var_q - log_var_p. `exp(d) - 1 - d` is computed as `expm1(d) - d`, which
    keeps full relative precision when q is close to p (d near 0), where the naive form
    loses it to cancellation. Nothing overflows for |log variance| up to ~85 in float32
    (exp(89) is float32's limit) or in the hundreds in float64.

    Shapes: all inputs broadcast to (..., d); output (..., d).
    """
    d = log_var_q - log_var_p
    return 0.5 * (tf.math.expm1(d) - d + tf.square(mean_q - mean_p) * tf.exp(-log_var_p))


def gaussian_kl(mean_q, log_var_q, mean_p, log_var_p):
    """KL(N(mean_q, diag exp(log_var_q)) || N(mean_p, diag exp(log_var_p))), {eq}`eq-kl-diag`.

    KL = sum_j KL_j, the coordinates' KLs (`gaussian_kl_terms`), since both distributions
    factorize over coordinates. Shapes: all inputs broadcast to (..., d); output (...,).
    """
    return tf.reduce_sum(gaussian_kl_terms(mean_q, log_var_q, mean_p, log_var_p), axis=-1)


def standard_normal_kl(mean, log_var):
    """KL(N(mean, diag exp(log_var)) || N(0, I)), {eq}`eq-kl-std-normal`.

    -KL = 1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2), the term of the paper's eq. (10).
    Shapes: (..., d) -> (...,).
    """
    return 0.5 * tf.reduce_sum(tf.math.expm1(log_var) - log_var + tf.square(mean), axis=-1)


def kl_per_dimension(q, prior):
    """The closed-form KL of each latent dimension, for a diagonal-Gaussian q and prior.

    The terms of {eq}`eq-kl-diag` before the sum. Shapes: batch (n,), event (d,) -> (n, d).
    """
    return gaussian_kl_terms(q.mean(), diagonal_log_variance(q), prior.mean(), diagonal_log_variance(prior))


def free_bits_kl(q, prior, free_bits: float):
    """KL with free bits, {eq}`eq-free-bits`: sum_j max(lambda, E_batch[KL_j]) per example.

    Each dimension's KL, averaged over the batch, counts as at least `free_bits` nats, so the
    optimizer gains nothing by pushing it lower (Kingma et al., 2016). Shapes: -> (n,), every
    entry equal to the batch's clipped total.
    """
    per_dim = tf.reduce_mean(kl_per_dimension(q, prior), axis=0)
    total = tf.reduce_sum(tf.maximum(per_dim, free_bits))
    return tf.fill(tf.shape(q.mean())[:1], total)


def diagonal_log_variance(q):
    """The log variances of a diagonal Gaussian `tfd.MultivariateNormalDiag`, shape (..., d)."""
    return 2.0 * tf.math.log(q.stddev())


def kl_to_prior(q, prior, z=None):
    """KL(q(z|x) || p(z)) per example: in closed form ({eq}`eq-kl-diag`) when no samples are
    given, which needs q and the prior to be diagonal Gaussians; else the Monte Carlo estimate,
    the average of log q(z|x) - log p(z) over the samples `z`.

    Shapes: q batch (batch,), event (d,); z (L, batch, d) -> (batch,).
    """
    if z is not None:
        return tf.reduce_mean(q.log_prob(z) - prior.log_prob(z), axis=0)
    if not (is_diagonal_gaussian(prior) and is_diagonal_gaussian(q)):
        raise ValueError("a closed-form KL needs diagonal Gaussians; pass samples z for a Monte Carlo KL")
    return gaussian_kl(q.mean(), diagonal_log_variance(q), prior.mean(), diagonal_log_variance(prior))


def is_diagonal_gaussian(dist) -> bool:
    return isinstance(dist, tfd.MultivariateNormalDiag)


class ElboTerms(NamedTuple):
    """Per-example terms of the ELBO, each of shape (batch,), in nats.

    `elbo = reconstruction - kl`; the training objective is `reconstruction - beta * kl`.
    """

    elbo: tf.Tensor
    reconstruction: tf.Tensor
    kl: tf.Tensor


def elbo(x, encode: Callable, decode: Callable, prior, *, n_samples: int = 1,
         analytic_kl: bool = True, seed=None) -> ElboTerms:
    """The evidence lower bound of {eq}`eq-elbo-jensen`, estimated with `n_samples` reparameterized samples.

    With `analytic_kl`, the estimator of {eq}`eq-sgvb-analytic` (the paper's eq. (7)):
        ELBO ~ 1/L sum_l log p(x | z_l) - KL(q(z|x) || p(z)),
    else the generic estimator of {eq}`eq-sgvb-mc` (the paper's eq. (6)):
        ELBO ~ 1/L sum_l [log p(x | z_l) + log p(z_l) - log q(z_l | x)],
    with z_l = mu(x) + sigma(x) * eps_l, eps_l ~ N(0, I) ({eq}`eq-reparam`).

    Args:
      x: data batch, shape (batch, *event_shape).
      encode: x -> q(z|x), a distribution with batch shape (batch,) and event shape (d,).
      decode: z -> p(x|z); z of shape (L, batch, d) gives batch shape (L, batch).
      prior: p(z), event shape (d,).
      seed: None, or a stateless seed (int32 tensor of shape (2,)) that fixes the noise.
    Returns:
      ElboTerms with fields of shape (batch,).
    """
    n_samples = checks.positive_int(n_samples, "n_samples")
    q = encode(x)
    z = q.sample(n_samples, seed=seed)  # (L, batch, d); TFP samples a Gaussian by reparameterization
    reconstruction = tf.reduce_mean(decode(z).log_prob(x), axis=0)
    closed_form = analytic_kl and is_diagonal_gaussian(prior) and is_diagonal_gaussian(q)
    kl = kl_to_prior(q, prior, None if closed_form else z)
    return ElboTerms(reconstruction - kl, reconstruction, kl)


class WakeSleepTerms(NamedTuple):
    """Per-example objectives of the wake-sleep algorithm, each of shape (batch,), in nats."""

    wake: tf.Tensor   # log p(x, z) at z ~ q(z|x), z held fixed: what the wake phase maximizes
    sleep: tf.Tensor  # log q(z'|x') at a dream (z', x') ~ p(z) p(x|z), held fixed: the sleep phase
    elbo: ElboTerms   # the single-sample ELBO of q at the wake phase's z, for reporting; no gradient is taken of it


def wake_sleep(x, encode: Callable, decode: Callable, prior, seed=None) -> WakeSleepTerms:
    """The two phases of wake-sleep (Hinton et al., 1995), {eq}`eq-wake` and {eq}`eq-sleep`.

    wake:  log p(x, z) = log p(x | z) + log p(z), with z ~ q(z|x) sampled and held fixed:
           its gradient reaches the generative model only.
    sleep: log q(z' | x'), with z' ~ p(z) and x' ~ p(x | z') dreamed by the generative model
           and held fixed: its gradient reaches the recognition model only, and it never
           looks at the data.
    So the gradient of `wake + sleep` is the wake gradient in the decoder's weights and the
    sleep gradient in the encoder's, and one optimizer step on their sum takes both phases
    at once. Neither phase follows the gradient of a single objective of both models, which
    is the difference from AEVB.

    The wake phase's z ~ q(z|x) and log p(x | z) are also a single-sample estimate of the
    ELBO, {eq}`eq-sgvb-analytic`; `elbo` reports it (with the closed-form KL where q and
    p are diagonal Gaussians) without a second pass through the networks.

    Shapes: x (batch, ...) -> WakeSleepTerms of (batch,) each.
    """
    wake_seed, prior_seed, dream_seed = (None,) * 3 if seed is None else tfp.random.split_seed(seed, n=3)
    q = encode(x)
    z = tf.stop_gradient(q.sample(seed=wake_seed))
    reconstruction = decode(z).log_prob(x)
    wake = reconstruction + prior.log_prob(z)
    kl = kl_to_prior(q, prior, None if is_diagonal_gaussian(prior) and is_diagonal_gaussian(q) else z[None])
    z_dream = tf.stop_gradient(prior.sample(tf.shape(x)[0], seed=prior_seed))
    x_dream = tf.stop_gradient(decode(z_dream).sample(seed=dream_seed))
    return WakeSleepTerms(wake, encode(x_dream).log_prob(z_dream), ElboTerms(reconstruction - kl, reconstruction, kl))


def log_importance_weights(x, encode: Callable, decode: Callable, prior, k: int, seed=None,
                           log_likelihood: Callable | None = None, decode_samples: int | None = None):
    """log w_i = log p(x | z_i) + log p(z_i) - log q(z_i | x) for k samples z_i ~ q(z|x).

    `log_likelihood(p_x, x)` computes log p(x | z) from the decoder's distribution; by
    default `p_x.log_prob(x)`. With `decode_samples`, the k samples, all drawn first, are
    decoded and scored that many at a time (a graph loop), so the decoder's outputs for a
    piece stay in the CPU's caches; the samples and the weights are the same.

    Shapes: x (batch, ...) -> (k, batch).
    """
    if decode_samples is not None:
        decode_samples = checks.positive_int(decode_samples, "decode_samples")
    q = encode(x)
    z = q.sample(k, seed=seed)

    def log_p_x_given(z):
        p_x = decode(z)
        return p_x.log_prob(x) if log_likelihood is None else log_likelihood(p_x, x)

    if decode_samples is None or decode_samples >= k:
        log_p_x = log_p_x_given(z)
    else:
        pieces, rest = divmod(k, decode_samples)
        head = tf.reshape(z[:pieces * decode_samples], tf.concat([[pieces, decode_samples], tf.shape(z)[1:]], 0))
        scored = tf.map_fn(log_p_x_given, head, parallel_iterations=1, fn_output_signature=z.dtype)
        log_p_x = tf.reshape(scored, tf.concat([[pieces * decode_samples], tf.shape(scored)[2:]], 0))
        if rest:
            log_p_x = tf.concat([log_p_x, log_p_x_given(z[pieces * decode_samples:])], axis=0)
    return log_p_x + prior.log_prob(z) - q.log_prob(z)


def fused_log_likelihood(p_x, x):
    """log p(x | z) = `p_x.log_prob(x)`, with Bernoulli pixels in one XLA kernel.

    With logits l_j = log(p_j / (1 - p_j)), log p_j = l_j - softplus(l_j) and
    log(1 - p_j) = -softplus(l_j), so a Bernoulli image has

        log p(x | z) = sum_j [ x_j log p_j + (1 - x_j) log(1 - p_j) ] = sum_j [ x_j l_j - softplus(l_j) ],

    evaluated with softplus(l) = max(l, 0) + log(1 + exp(-|l|)), without overflow for any
    logit and any x in [0, 1] (the formula of TF's sigmoid cross-entropy). TFP's Bernoulli
    computes both log p_j and log(1 - p_j), two softplus, and makes several passes over the
    (samples, images, pixels) logits; XLA fuses the line above into one,
    and the k = 5000 estimates of chapters 6 and 8 run about 15% faster for it. The values
    agree with TFP's to float rounding. Other distributions fall back to `log_prob`.
    """
    pixels = p_x.distribution if isinstance(p_x, tfd.Independent) else None
    if not isinstance(pixels, tfd.Bernoulli) or pixels.logits is None:
        return p_x.log_prob(x)
    return _bernoulli_log_likelihood(pixels.logits, tf.cast(x, pixels.logits.dtype), len(p_x.event_shape))


@tf.function(jit_compile=True)
def _bernoulli_log_likelihood(logits, x, event_ndims: int):
    if event_ndims > 1:
        # Sum over one axis of all D pixels, not over (h, w): XLA's CPU code vectorizes a
        # reduction along one 784-long axis, and the estimate of log p(x) runs about 15% faster
        # than with two axes of 28. Only the order of the additions changes.
        logits = tf.reshape(logits, tf.concat([tf.shape(logits)[:-event_ndims], [-1]], 0))
        x = tf.reshape(x, tf.concat([tf.shape(x)[:tf.rank(x) - event_ndims], [-1]], 0))
    # log(1 + e) rather than log1p(e): for e = exp(-|l|) in (0, 1] it adds one rounding of
    # 1 + e, at most 1.2e-7 nats a pixel, below the rounding of the 784-term sum itself, and
    # XLA's CPU code computes it about 1.6 times faster.
    log_lik = x * logits - tf.maximum(logits, 0.0) - tf.math.log(1.0 + tf.exp(-tf.abs(logits)))
    return tf.reduce_sum(log_lik, axis=list(range(-min(event_ndims, 1), 0)))


def importance_weighted_bound(x, encode: Callable, decode: Callable, prior, *, k: int,
                              chunk_size: int | None = None, seed=None, log_likelihood: Callable | None = None,
                              decode_samples: int | None = None):
    """The importance-weighted bound L_k = log (1/k sum_i w_i), {eq}`eq-iwae`.

    L_1 is the ELBO; L_k does not decrease with k and tends to log p(x) (Burda et al., 2016).
    With `chunk_size`, the k samples are drawn `chunk_size` at a time and combined with a
    running log-sum-exp, so memory is bounded by chunk_size, not by k; this is how
    k = 5000 fits. Inside a tf.function the chunks run as one graph loop, one chunk at a
    time. Gradients flow through it, so it also trains an IWAE. `log_likelihood` and
    `decode_samples` are passed to `log_importance_weights`.

    Shapes: x (batch, ...) -> (batch,).
    """
    k = checks.positive_int(k, "k")
    chunk_size = k if chunk_size is None else min(checks.positive_int(chunk_size, "chunk_size"), k)
    n_full, rest = divmod(k, chunk_size)
    seeds = None if seed is None else tf.stack(tfp.random.split_seed(seed, n=n_full + (rest > 0)))

    def chunk(size, i):  # log sum_i w_i over one chunk of samples: (batch,)
        chunk_seed = None if seeds is None else tf.gather(seeds, i)
        log_w = log_importance_weights(x, encode, decode, prior, size, seed=chunk_seed, log_likelihood=log_likelihood,
                                       decode_samples=decode_samples)
        return tf.reduce_logsumexp(log_w, axis=0)

    def add(total, part):
        return tf.reduce_logsumexp(tf.stack([total, part]), axis=0)

    total = chunk(chunk_size, 0)
    if n_full > 1:
        # Inside a tf.function, AutoGraph turns this loop into a tf.while_loop: one chunk's
        # samples are alive at a time, however large k is.
        for i in tf.range(1, n_full):
            tf.autograph.experimental.set_loop_options(parallel_iterations=1)  # never two chunks at once
            total = add(total, chunk(chunk_size, i))
    if rest:
        total = add(total, chunk(rest, n_full))
    return total - math.log(k)


# How many (sample, image) pairs `marginal_log_likelihood` decodes at once: 5,000 pairs' Bernoulli logits
# are 16 MB, and a piece this size keeps the decoder's outputs in cache while its products stay efficient.
DECODED_ROWS = 5000


def marginal_log_likelihood(model, images, *, k: int = 5000, batch_size: int = 100, chunk_size: int = 500):
    """Importance-sampling estimate of log p(x) for every image, {eq}`eq-is-loglik`.

    log p(x) ~ log (1/k sum_i p(x|z_i) p(z_i) / q(z_i|x)), z_i ~ q(z|x): the
    importance-weighted bound with large k, which converges to log p(x) from below.
    Evaluated `batch_size` images and `chunk_size` samples at a time, compiled once, with
    Bernoulli pixels scored by `fused_log_likelihood`; each chunk's samples are decoded
    `DECODED_ROWS // batch_size` at a time (the same samples: 20% faster on 2 cores
    than decoding the chunk at once, whose 160 MB of logits streamed through memory). (Training keeps TFP's `log_prob`:
    an XLA-compiled step fuses it anyway, and a change of rounding would change every
    trained model's numbers.)

    Args:
      model: a VAE (anything with `encode`, `decode` and `prior`).
      images: array (n, *image_shape).
    Returns:
      numpy array (n,) of log-likelihoods in nats.
    """
    import numpy as np

    k = checks.positive_int(k, "k")
    batch_size = checks.positive_int(batch_size, "batch_size")
    chunk_size = min(checks.positive_int(chunk_size, "chunk_size"), k)

    images = np.asarray(images, np.float32)

    def bound(x):
        return importance_weighted_bound(x, model.encode, model.decode, model.prior, k=k, chunk_size=chunk_size,
                                         log_likelihood=fused_log_likelihood,
                                         decode_samples=max(1, DECODED_ROWS // batch_size))

    # Traced once, for any batch size, as a concrete function: a chapter that estimates many
    # models at many k compiles one graph per estimate, and TF's retracing warning (meant for
    # a function traced over and over by mistake) does not apply.
    compiled = tf.function(bound).get_concrete_function(tf.TensorSpec((None,) + images.shape[1:], tf.float32))
    return np.concatenate([compiled(tf.constant(images[i:i + batch_size])).numpy()
                           for i in range(0, len(images), batch_size)])
