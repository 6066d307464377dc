"""Paths through a latent space: between the codes of two images, and a step of chosen size away from one.

* The linear path z_t = (1 - t) z_a + t z_b, t in [0, 1] {eq}`eq-linear-path`.
* The spherical path (slerp; Shoemake 1985, and White 2016 for generative models), which turns
  z_a into z_b along the great circle, scaling the norm linearly from |z_a| to |z_b| {eq}`eq-slerp`.
* Where a linear midpoint lands: for independent codes z_a and z_b of one distribution,
  E|(z_a + z_b)/2|^2 = (E|z|^2 + |E z|^2) / 2 {eq}`eq-midpoint-norm`. For codes centred at
  the origin, midpoints sit at 1/sqrt(2) of the codes' typical radius.
* A step away from a code in the codes' own units: z + s * sd * eps, with sd the per-unit
  standard deviation of the codes and eps ~ N(0, I), so that one scale means the same for an
  autoencoder (whose codes have any spread) and a VAE (whose codes the prior holds near unit spread).
"""

from __future__ import annotations

import numpy as np

from tfvae import checks
from tfvae.errors import InvalidInputError


def _codes(z, name: str) -> np.ndarray:
    z = np.asarray(z)
    if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] == 0:
        raise InvalidInputError(f"{name} must have shape (n, d) with n, d >= 1, got {z.shape}")
    if z.dtype.kind not in "fiu":
        raise InvalidInputError(f"{name} must be numeric, got dtype {z.dtype}")
    z = z.astype(np.float32)
    if not np.isfinite(z).all():
        raise InvalidInputError(f"{name} contains NaN or infinite values")
    return z


def _endpoints(z_start, z_end):
    z_start, z_end = _codes(z_start, "z_start"), _codes(z_end, "z_end")
    if z_start.shape != z_end.shape:
        raise InvalidInputError(f"z_start and z_end must have one shape, got {z_start.shape} and {z_end.shape}")
    return z_start, z_end


def path_times(n_points: int) -> np.ndarray:
    """The n_points evenly spaced times t = 0, ..., 1 at which a path is evaluated. Shape: (n_points,)."""
    n_points = checks.positive_int(n_points, "n_points")
    if n_points < 2:
        raise InvalidInputError(f"a path needs n_points >= 2 (its two ends), got {n_points}")
    return np.linspace(0.0, 1.0, n_points, dtype=np.float32)


def linear_path(z_start, z_end, n_points: int) -> np.ndarray:
    """z_t = (1 - t) z_a + t z_b at `path_times(n_points)` {eq}`eq-linear-path`.

    Shapes: (n, d), (n, d) -> (n_points, n, d); entry [0] is z_start and entry [-1] is z_end.
    """
    z_start, z_end = _endpoints(z_start, z_end)
    t = path_times(n_points)[:, None, None]
    return (1.0 - t) * z_start + t * z_end


def spherical_path(z_start, z_end, n_points: int) -> np.ndarray:
    """Slerp between each pair of codes {eq}`eq-slerp`.

    With cos(omega) = <z_a, z_b> / (|z_a| |z_b|), the direction moves along the great circle,
    u_t = [sin((1 - t) omega) u_a + sin(t omega) u_b] / sin(omega), and the norm moves linearly,
    |z_t| = (1 - t) |z_a| + t |z_b|. Where z_a and z_b point the same way (omega = 0) the path is
    the linear one. A zero code has no direction; it is refused.

    Shapes: (n, d), (n, d) -> (n_points, n, d).
    """
    z_start, z_end = _endpoints(z_start, z_end)
    t = path_times(n_points)[:, None, None].astype(np.float64)
    a, b = z_start.astype(np.float64), z_end.astype(np.float64)
    norm_a, norm_b = np.linalg.norm(a, axis=1, keepdims=True), np.linalg.norm(b, axis=1, keepdims=True)
    if (norm_a == 0).any() or (norm_b == 0).any():
        raise InvalidInputError("spherical_path needs nonzero codes: a zero code has no direction")
    u_a, u_b = a / norm_a, b / norm_b
    omega = np.arccos(np.clip(np.sum(u_a * u_b, axis=1, keepdims=True), -1.0, 1.0))
    sin_omega = np.sin(omega)
    parallel = sin_omega < 1e-6
    safe = np.where(parallel, 1.0, sin_omega)
    direction = np.where(parallel, (1.0 - t) * u_a + t * u_b,
                         (np.sin((1.0 - t) * omega) * u_a + np.sin(t * omega) * u_b) / safe)
    direction /= np.linalg.norm(direction, axis=2, keepdims=True)
    return (((1.0 - t) * norm_a + t * norm_b) * direction).astype(np.float32)


def expected_midpoint_sq_norm(codes) -> float:
    """E|(z_a + z_b)/2|^2 for independent draws z_a, z_b from the codes' distribution {eq}`eq-midpoint-norm`.

    Equals (E|z|^2 + |E z|^2) / 2, estimated from the codes. Shapes: (n, d) -> float.
    """
    z = _codes(codes, "codes").astype(np.float64)
    return float((np.mean(np.sum(z ** 2, axis=1)) + np.sum(z.mean(axis=0) ** 2)) / 2)


def perturbed(codes, scale: float, *, seed: int) -> np.ndarray:
    """z + scale * sd * eps, eps ~ N(0, I), sd the per-unit standard deviation of `codes` over the rows.

    Shapes: (n, d) -> (n, d).
    """
    z = _codes(codes, "codes")
    if len(z) < 2:
        raise InvalidInputError("perturbed measures the codes' spread; pass at least 2 codes")
    if not np.isfinite(scale) or scale < 0:
        raise InvalidInputError(f"scale must be a finite number >= 0, got {scale!r}")
    eps = np.random.default_rng(seed).standard_normal(z.shape).astype(np.float32)
    return z + np.float32(scale) * z.std(axis=0) * eps


def pairs_of_different_classes(labels, n_pairs: int, *, seed: int):
    """Indices (i, j) of `n_pairs` random pairs of items whose labels differ.

    Shapes: (n,) integer labels -> (n_pairs,), (n_pairs,).
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise InvalidInputError(f"labels must be a 1-D array of integers, got shape {labels.shape}, "
                                f"dtype {labels.dtype}")
    n_pairs = checks.positive_int(n_pairs, "n_pairs")
    if len(np.unique(labels)) < 2:
        raise InvalidInputError("pairs of different classes need labels of at least 2 classes")
    rng = np.random.default_rng(seed)
    first, second = [], []
    while len(first) < n_pairs:
        i, j = rng.integers(0, len(labels), (2, n_pairs))
        keep = labels[i] != labels[j]
        first.extend(i[keep]), second.extend(j[keep])
    return np.array(first[:n_pairs]), np.array(second[:n_pairs])
