"""Where an explorer starts: encoded images as latent points, and the checks both explorers share."""

from __future__ import annotations

import math

import numpy as np

from tfvae import checks
from tfvae.errors import InvalidInputError


def check_latent_range(latent_range):
    if not (isinstance(latent_range, (int, float)) and math.isfinite(latent_range) and latent_range > 0):
        raise InvalidInputError(f"latent_range must be a finite number > 0, got {latent_range!r}")


def encoded_anchors(model, images, labels=None, indices=None, *, prefix: str = "encoded test image") -> dict:
    """Starting points for an explorer: the means of q(z|x) for some images.

    Shapes: images (n, h, w), labels (n,) -> {"encoded test image i (label y)": z (d,)}.
    `indices` picks which images (default: the first 10).
    """
    images = checks.images(images, "images", image_shape=model.image_shape)
    indices = list(range(min(10, len(images)))) if indices is None else [int(i) for i in indices]
    codes = model.encode(images[indices]).mean().numpy()
    names = [f"{prefix} {i}" + (f" (label {labels[i]})" if labels is not None else "") for i in indices]
    return dict(zip(names, codes))


def check_anchors(anchors, d):
    if anchors is None:
        return {}
    if not isinstance(anchors, dict):
        raise InvalidInputError(f"anchors must be a dict name -> latent vector, got {type(anchors).__name__}")
    checked = {}
    for name, z in anchors.items():
        z = np.asarray(z, np.float64)
        if z.shape != (d,):
            raise InvalidInputError(f"anchor {name!r} has shape {z.shape}; expected ({d},), the latent size")
        if not np.isfinite(z).all():
            raise InvalidInputError(f"anchor {name!r} contains NaN or infinite values")
        checked[str(name)] = z
    return checked
