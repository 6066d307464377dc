"""Held-out numbers for a trained model: the test ELBO, the importance-sampled log-likelihood, and the
gaps between them that amortized inference and the Gaussian family leave, in nats; a classifier's
test error; and the mean of per-image numbers, or of the paired difference of two models' numbers, with
its standard error."""

from __future__ import annotations

import numpy as np

from tfvae import checks, objectives
from tfvae.models import likelihoods


def evaluate(model, data, *, split: str = "test", binarization: str = "none", k: int = 5000,
             batch_size: int = 100, chunk_size: int = 500, max_images: int | None = None, seed: int = 0) -> dict:
    """ELBO and log p(x) ({eq}`eq-is-loglik`, k importance samples) averaged over a split.

    The split is binarized (or dequantized) as in training, once with a fixed seed, so repeated
    evaluations agree.

    Returns:
      {"elbo": nats, "log_likelihood": nats, "images": n, "k": k, "per_image": {"elbo": (n,),
      "log_likelihood": (n,)}}: the averages, and each image's values so that differences can
      be paired image by image; negate for the negative log-likelihood usually reported for MNIST.
    """
    x = data.evaluation_images(split, binarization, seed=seed)
    if max_images is not None:
        x = x[:checks.positive_int(max_images, "max_images")]
    x = checks.images(x, f"{data.name} {split} images", image_shape=model.image_shape,
                          binary_range=model.config.likelihood in likelihoods.UNIT_RANGE)
    elbo = np.concatenate([model.elbo(x[i:i + batch_size]).elbo.numpy() for i in range(0, len(x), batch_size)])
    log_likelihood = objectives.marginal_log_likelihood(model, x, k=k, batch_size=batch_size, chunk_size=chunk_size)
    return {"elbo": float(elbo.mean()), "log_likelihood": float(log_likelihood.mean()), "images": int(len(x)), "k": int(k),
            "per_image": {"elbo": elbo, "log_likelihood": np.asarray(log_likelihood)}}


def classification_error(model, data, *, split: str = "test", binarization: str = "none", seed: int = 0,
                         max_images: int | None = None) -> float:
    """The fraction of a split's images whose likeliest class under the model's q(y|x) is not their label.

    `model` has `predict_classes` (a semi-supervised model's classifier). The split is binarized
    as `evaluate` does: as in training, once, with a fixed seed.
    """
    x = data.evaluation_images(split, binarization, seed=seed)
    labels = data.split(split).y
    if max_images is not None:
        n = checks.positive_int(max_images, "max_images")
        x, labels = x[:n], labels[:n]
    return float(np.mean(model.predict_classes(x) != labels))


def mean_and_standard_error(values) -> tuple[float, float]:
    """The mean of independent values (per image, per draw, ...) and its standard error, sd / sqrt(n).

    The book asserts that a quantity is positive when its mean is more than three of these
    standard errors above zero.

    Shapes: values (n,) with n >= 2 -> (mean, standard error), floats, computed in float64.
    """
    values = np.asarray(values, np.float64)
    if values.ndim != 1 or len(values) < 2:
        raise checks.InvalidInputError(f"values must be a 1-D array of length >= 2, got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise checks.InvalidInputError("values must be finite")
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))


def paired_difference(a, b) -> tuple[float, float]:
    """The mean of a - b over paired values, and its standard error.

    Two models scored on the same test images differ image by image far less than the
    images differ from one another; the standard error of the per-image differences,
    sd(a - b) / sqrt(n), leaves the images' own spread out. The book asserts a difference
    when its mean is more than three of these from zero.

    Shapes: a, b (n,) with n >= 2 -> (mean, standard error), floats, computed in float64.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 1 or a.shape != b.shape or len(a) < 2:
        raise checks.InvalidInputError(f"paired values must be two 1-D arrays of the same length >= 2, "
                                       f"got shapes {a.shape} and {b.shape}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise checks.InvalidInputError("paired values must be finite")
    return mean_and_standard_error(a - b)


def bits_per_dimension(log_likelihood, dimensions: int, *, density: bool) -> np.ndarray:
    """Negative log-likelihood in bits per pixel of 8-bit images, {eq}`eq-bits-per-dimension`.

    density=False: `log_likelihood` is log P(x) of a discrete model of the 256 grey levels, in
    nats; bits/dim = -log P(x) / (D log 2). density=True: it is log p(y) of a continuous density
    at the dequantized images y in [0, 1) ({eq}`eq-dequantization`); since
    log P(x) >= log p(y) - D log 256 on average over the dequantization ({eq}`eq-dequantization-bound`),
    bits/dim <= (-log p(y) + D log 256) / (D log 2), which is returned.

    Shapes: any -> same shape.
    """
    dimensions = checks.positive_int(dimensions, "dimensions")
    nats = -np.asarray(log_likelihood, np.float64) + (dimensions * np.log(256.0) if density else 0.0)
    return nats / (dimensions * np.log(2.0))


def optimized_gaussian_elbo(model, x, *, steps: int = 300, learning_rate: float = 1e-2, n_samples: int = 16,
                            eval_samples: int = 1000, seed: int = 0):
    """The ELBO of the best diagonal Gaussian for each image, q*(z|x) of {eq}`eq-inference-gaps`.

    The encoder amortizes inference: one network gives q(z|x) for every x. Cremer et al.
    (2018) ask how much that costs by fitting a diagonal Gaussian to each image on its own.
    Here each image's mean and log-variance start at the encoder's output and climb the
    image's ELBO ({eq}`eq-sgvb-analytic`, `n_samples` reparameterized samples per step)
    for `steps` Adam steps; the decoder stays fixed. Gradient ascent finds a local optimum,
    so the amortization gap measured with it is a lower bound on the true one.

    Args:
      model: a trained VAE (anything with posterior_parameters, decode and prior).
      x: images, shape (n, h, w).
    Returns:
      (elbo, q): the per-image ELBO of the fitted Gaussians, shape (n,), estimated with
      `eval_samples` fresh samples (so optimization noise does not inflate it), and the
      fitted q*(z|x) itself, a tfd.MultivariateNormalDiag with batch shape (n,).
    """
    import keras
    import tensorflow as tf
    import tensorflow_probability as tfp

    steps = checks.positive_int(steps, "steps")
    n_samples = checks.positive_int(n_samples, "n_samples")
    eval_samples = checks.positive_int(eval_samples, "eval_samples")
    x = tf.constant(checks.images(x, "x", image_shape=model.image_shape))
    mean0, log_var0 = model.posterior_parameters(x)
    mean, log_var = tf.Variable(mean0), tf.Variable(log_var0)
    optimizer = keras.optimizers.Adam(learning_rate)

    def fitted():
        return tfp.distributions.MultivariateNormalDiag(loc=mean, scale_diag=tf.exp(0.5 * log_var))

    @tf.function
    def climb(step_seed):
        with tf.GradientTape() as tape:
            terms = objectives.elbo(x, lambda _: fitted(), model.decode, model.prior, n_samples=n_samples,
                                    seed=step_seed)
            # Each image's parameters enter only its own term, so the sum climbs every image's ELBO at once.
            loss = -tf.reduce_sum(terms.elbo)
        optimizer.apply_gradients(zip(tape.gradient(loss, [mean, log_var]), [mean, log_var]))

    for step in range(steps):
        climb(tf.constant([seed, step], tf.int32))
    q = fitted()
    final = objectives.elbo(x, lambda _: q, model.decode, model.prior, n_samples=eval_samples,
                            seed=tf.constant([seed, -1], tf.int32))
    return final.elbo.numpy(), q
