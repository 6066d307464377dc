"""Argument checks (counts, names, image arrays): bad input fails early, with an error naming the problem."""

import numbers

import numpy as np

from tfvae.errors import InvalidInputError


def positive_int(value, name: str) -> int:
    """Return `value` as an int, or raise if it is not a whole number >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInputError(f"{name} must be a positive whole number, got {value!r}")
    if value < 1:
        raise InvalidInputError(f"{name} must be >= 1, got {value}")
    return int(value)


def one_of(value, choices, name: str):
    """Return `value` if it is one of `choices`, else raise naming the choices."""
    if value not in choices:
        known = ", ".join(repr(c) for c in sorted(choices))
        raise InvalidInputError(f"unknown {name} {value!r}; choose one of {known}")
    return value


def images(x, name: str = "x", *, image_shape=None, binary_range: bool = False) -> np.ndarray:
    """Check an array of images and return it as float32.

    Args:
      x: array of shape (n, *image_shape).
      image_shape: the shape one image must have, if known.
      binary_range: require every value in [0, 1], as Bernoulli and discretized-logistic pixels,
        binarization and dequantization do.

    Raises:
      InvalidInputError naming the problem: wrong rank or shape, NaN or inf,
      values outside [0, 1].
    """
    x = np.asarray(x)
    if x.dtype.kind not in "fiub":
        raise InvalidInputError(f"{name} must be numeric, got dtype {x.dtype}")
    x = x.astype(np.float32, copy=False)
    if image_shape is not None:
        image_shape = tuple(image_shape)
        if x.shape[1:] != image_shape:
            raise InvalidInputError(
                f"{name} has shape {x.shape}; expected (n, {', '.join(map(str, image_shape))})"
            )
    elif x.ndim < 2:
        raise InvalidInputError(f"{name} must have a batch axis and image axes, got shape {x.shape}")
    if x.shape[0] == 0:
        raise InvalidInputError(f"{name} is empty")
    finite = np.isfinite(x)
    if not finite.all():
        bad = int((~finite).sum())
        raise InvalidInputError(f"{name} contains {bad} NaN or infinite values")
    if binary_range and (x.min() < 0.0 or x.max() > 1.0):
        raise InvalidInputError(
            f"{name} has values in [{x.min():g}, {x.max():g}], but Bernoulli and discretized-logistic "
            "pixels, binarization and dequantization need every value in [0, 1]; scale the data or "
            "choose likelihood='gaussian'"
        )
    return x
