"""Held-out numbers for a trained model: the test ELBO and the importance-sampled log-likelihood, in nats."""

from __future__ import annotations

import numpy as np

from tfvae import objectives, validation


def evaluate(model, data, *, split: str = "test", binarization: str = "none", k: int = 5000,
             batch_size: int = 100, chunk_size: int = 500, max_images: int | None = None, seed: int = 0) -> dict:
    """ELBO and log p(x) (eq. {eq}`eq-is-loglik`, k importance samples) averaged over a split.

    Binary data are binarized once with a fixed seed, so repeated evaluations agree.

    Returns:
      {"elbo": nats, "log_likelihood": nats, "images": n, "k": k}; negate for the
      negative log-likelihood usually reported for MNIST.
    """
    x = data.binarized(split, seed=seed) if binarization != "none" else data.split(split).x
    if max_images is not None:
        x = x[:validation.positive_int(max_images, "max_images")]
    x = validation.images(x, f"{data.name} {split} images", image_shape=model.image_shape,
                          binary_range=model.config.likelihood == "bernoulli")
    elbo = np.concatenate([model.elbo(x[i:i + batch_size]).elbo.numpy() for i in range(0, len(x), batch_size)])
    log_likelihood = objectives.marginal_log_likelihood(model, x, k=k, batch_size=batch_size, chunk_size=chunk_size)
    return {"elbo": float(elbo.mean()), "log_likelihood": float(log_likelihood.mean()), "images": int(len(x)), "k": int(k)}
