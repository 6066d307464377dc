"""How sharp images are: the energy of their pixel-to-pixel differences, {eq}`eq-gradient-energy`.

A blurred image has smaller differences between neighbouring pixels than a sharp one, so the
mean squared difference falls as an image blurs. The ratio of a model's samples' energy to the
data's is the measure of blur chapter 16 uses.
"""

from __future__ import annotations

import numpy as np

from tfvae import checks


def gradient_energy(images) -> np.ndarray:
    """The mean squared difference between horizontally and vertically adjacent pixels, {eq}`eq-gradient-energy`.

    Shapes: (n, h, w) -> (n,), one value per image (0 for a constant image).
    """
    x = checks.images(images, "images").astype(np.float64)
    if x.ndim != 3 or min(x.shape[1:]) < 2:
        raise checks.InvalidInputError(f"images must have shape (n, h, w) with h, w >= 2, got {x.shape}")
    across = np.diff(x, axis=2) ** 2
    down = np.diff(x, axis=1) ** 2
    return (across.sum(axis=(1, 2)) + down.sum(axis=(1, 2))) / (across[0].size + down[0].size)
