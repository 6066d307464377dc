"""What a trained VAE does with its latent units: which are active, and what each costs in KL.

* Active units (Burda et al., 2016): unit u is active when its posterior mean moves with
  the data, A_u = Cov_x(E_{q(z|x)}[z_u]) > 0.01. An inactive unit ignores x, so q(z_u|x)
  can equal the prior and contribute nothing to the KL term or to the reconstruction.
* The KL per latent dimension: the terms of {eq}`eq-kl-diag` before the sum over
  dimensions, averaged over the data. They sum to the average KL(q(z|x) || p(z)).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfvae import checks, objectives

ACTIVITY_THRESHOLD = 0.01  # Burda et al. (2016), section 5.2


def posterior_means(model, images, *, batch_size: int = 1000) -> np.ndarray:
    """E_{q(z|x)}[z] for every image. Shapes: (n, h, w) -> (n, d)."""
    x = checks.images(images, "images", image_shape=model.image_shape)
    batch_size = checks.positive_int(batch_size, "batch_size")
    return np.concatenate([model.encode(x[i:i + batch_size]).mean().numpy() for i in range(0, len(x), batch_size)])


def unit_activity(model, images, *, batch_size: int = 1000) -> np.ndarray:
    """A_u = Cov_x(E_{q(z|x)}[z_u]), the variance over the images of each unit's posterior mean.

    Shapes: (n, h, w) -> (d,).
    """
    means = posterior_means(model, images, batch_size=batch_size)
    if len(means) < 2:
        raise checks.InvalidInputError("unit activity is a variance over images; pass at least 2 images")
    return means.var(axis=0, ddof=1)


def active_units(model, images, *, threshold: float = ACTIVITY_THRESHOLD, batch_size: int = 1000) -> int:
    """The number of latent units whose activity A_u exceeds `threshold` (0.01, Burda et al., 2016)."""
    return int((unit_activity(model, images, batch_size=batch_size) > threshold).sum())


def mean_kl_per_dimension(model, images, *, batch_size: int = 1000) -> np.ndarray:
    """KL(q(z_j|x) || p(z_j)) for each latent dimension j, averaged over the images.

    `objectives.kl_per_dimension` (the terms of {eq}`eq-kl-diag`) averaged over x;
    the entries sum to the average KL term of the ELBO. Shapes: (n, h, w) -> (d,), nats.
    """
    x = checks.images(images, "images", image_shape=model.image_shape)
    batch_size = checks.positive_int(batch_size, "batch_size")
    total = 0.0
    for i in range(0, len(x), batch_size):
        total += tf.reduce_sum(objectives.kl_per_dimension(model.encode(x[i:i + batch_size]), model.prior), axis=0)
    return (total / len(x)).numpy()
