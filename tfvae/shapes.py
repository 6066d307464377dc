"""A dSprites-like data set, generated: binary images of one shape each, with known factors.

dSprites (Matthey et al., 2017) is the usual test bed for disentanglement: every image is
drawn from five independent factors of variation, and a representation can be scored by
how well single latent dimensions capture single factors. It has to be downloaded, which
this book's build machine cannot do, so `tfvae` draws an equivalent set itself:

* shape: square, ellipse or triangle (3 values);
* scale: 6 values from 0.5 to 1;
* rotation: 6 angles in [0, 45 degrees), below every shape's symmetry angle (90 degrees
  for the square), so different angles always give different images;
* x and y: 16 positions each, so that the largest shape always fits.

Each image is a function of its factors only (a pixel is on when its centre falls inside
the shape), and the factors are drawn with a seeded generator, so the same arguments give
identical arrays. The result is a `tfvae.data.ImageDataset`, trainable with
`tfvae.training.fit`, whose class label is the shape and whose factors are kept alongside.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tfvae import checks, data

SHAPES = ("square", "ellipse", "triangle")
FACTORS = ("shape", "scale", "rotation", "x", "y")
# Half-width of a shape at scale 1, as a fraction of the image side; with the margin below,
# the largest shape, rotated, stays inside the image at every position.
_RADIUS = 0.16
_ELLIPSE_ASPECT = 0.55
_SQUARE_HALF = 0.85


def factor_values(size: int = 32) -> dict:
    """The values each factor takes in `size` x `size` images: {factor name: 1-D array}.

    Positions are pixel coordinates of the shape's centre (x to the right, y downwards).
    """
    size = checks.positive_int(size, "size")
    margin = _RADIUS * size * np.sqrt(2) + 1.0
    positions = np.linspace(margin, size - margin, 16)
    return {
        "shape": np.arange(len(SHAPES), dtype=np.float64),
        "scale": np.linspace(0.5, 1.0, 6),
        "rotation": np.linspace(0.0, np.pi / 4, 6, endpoint=False),
        "x": positions,
        "y": positions,
    }


def render(factors, size: int = 32) -> np.ndarray:
    """Draw one image per row of factor values (shape index, scale, rotation, x, y).

    A pixel is 1 when its centre lies inside the shape: the pixel centre is moved into the
    shape's own frame (translate by -(x, y), rotate by -rotation, divide by the radius) and
    tested against the unit square, ellipse or triangle there.

    Shapes: factors (n, 5) -> images (n, size, size), float32 0/1.
    """
    size = checks.positive_int(size, "size")
    factors = np.asarray(factors, np.float64)
    if factors.ndim != 2 or factors.shape[1] != len(FACTORS):
        raise checks.InvalidInputError(f"factors must have shape (n, {len(FACTORS)}) ordered as {FACTORS}, "
                                           f"got {factors.shape}")
    shape, scale, angle, cx, cy = (factors[:, i, None, None] for i in range(len(FACTORS)))
    centres = np.arange(size) + 0.5
    px, py = centres[None, None, :], centres[None, :, None]
    dx, dy = (px - cx) / (scale * _RADIUS * size), (cy - py) / (scale * _RADIUS * size)  # v axis points up
    cos, sin = np.cos(angle), np.sin(angle)
    u, v = cos * dx + sin * dy, -sin * dx + cos * dy
    square = np.maximum(np.abs(u), np.abs(v)) <= _SQUARE_HALF
    ellipse = u ** 2 + (v / _ELLIPSE_ASPECT) ** 2 <= 1.0
    # Equilateral triangle with circumradius 1 and its centre at the origin, apex up.
    triangle = (v >= -0.5) & (v <= 1.0 - np.sqrt(3.0) * np.abs(u))
    inside = np.where(shape == 0, square, np.where(shape == 1, ellipse, triangle))
    return inside.astype(np.float32)


def sample_factors(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    """n independent draws of the factors' indices, each uniform over its values. Shape (n, 5), int64."""
    n = checks.positive_int(n, "n")
    counts = [len(v) for v in factor_values(size).values()]
    rng = np.random.default_rng([seed, 7])
    return np.stack([rng.integers(0, c, size=n) for c in counts], axis=1).astype(np.int64)


def indices_to_values(indices, size: int = 32) -> np.ndarray:
    """Factor indices (n, 5) -> factor values (n, 5) (shape index, scale, radians, pixels, pixels)."""
    indices = np.asarray(indices)
    return np.stack([values[indices[:, i]] for i, values in enumerate(factor_values(size).values())], axis=1)


@dataclasses.dataclass(frozen=True)
class ShapesDataset(data.ImageDataset):
    """An `ImageDataset` of generated shapes that also knows every image's factors.

    `factors(split)` gives the factor indices (n, 5), `values(split)` the factor values;
    columns are ordered as `FACTORS`. The label `y` of each split is the shape.
    """

    factor_indices: dict = dataclasses.field(default_factory=dict)
    size: int = 32

    def factors(self, split: str = "test") -> np.ndarray:
        self.split(split)
        return self.factor_indices[split]

    @property
    def class_names(self) -> list[str]:
        return list(SHAPES)

    @property
    def display_name(self) -> str:
        return "generated shapes (dSprites-like)"

    def values(self, split: str = "test") -> np.ndarray:
        return indices_to_values(self.factors(split), self.size)


def load(n_train: int = 20000, n_validation: int = 2000, n_test: int = 2000, *, size: int = 32,
         seed: int = 0) -> ShapesDataset:
    """Generate the shapes data set: independent factor draws for each split, rendered.

    Same arguments, identical arrays. Shapes: x (n, size, size) float32 0/1, y (n,) int64.
    """
    splits, indices = {}, {}
    for offset, (name, n) in enumerate((("train", n_train), ("validation", n_validation), ("test", n_test))):
        idx = sample_factors(n, size, seed=seed * 3 + offset)
        values = indices_to_values(idx, size)
        # Rendered in chunks, so the per-pixel temporaries stay small for large n.
        x = np.concatenate([render(values[i:i + 4096], size) for i in range(0, n, 4096)])
        splits[name] = data.Split(x, idx[:, 0].copy())
        indices[name] = idx
    return ShapesDataset(name="shapes", source=f"tfvae.shapes.load(seed={seed})",
                         factor_indices=indices, size=size, **splits)
