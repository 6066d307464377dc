"""The generated shapes data: deterministic, well-formed, and its factors can be read back from its images."""

import numpy as np
import pytest

from tfvae import shapes
from tfvae.errors import InvalidInputError


@pytest.fixture(scope="module")
def dataset():
    return shapes.load(3000, 200, 1000, seed=0)


def test_same_arguments_give_identical_arrays(dataset):
    again = shapes.load(3000, 200, 1000, seed=0)
    for split in ("train", "validation", "test"):
        assert np.array_equal(dataset.split(split).x, again.split(split).x)
        assert np.array_equal(dataset.factors(split), again.factors(split))


def test_another_seed_gives_other_images(dataset):
    assert not np.array_equal(dataset.test.x, shapes.load(10, 10, 1000, seed=1).test.x)


def test_images_are_binary_nonempty_and_inside_the_frame(dataset):
    x = dataset.train.x
    assert x.shape == (3000, 32, 32) and x.dtype == np.float32
    assert set(np.unique(x)) <= {0.0, 1.0}
    assert x.sum(axis=(1, 2)).min() >= 4  # even the smallest shape covers a few pixels
    # The margin keeps every shape off the border, so none is cut.
    border = np.concatenate([x[:, 0], x[:, -1], x[:, :, 0], x[:, :, -1]], axis=1)
    assert border.max() == 0.0


def test_labels_are_the_shape_factor_and_the_dataset_trains_like_any_other(dataset):
    assert np.array_equal(dataset.train.y, dataset.factors("train")[:, 0])
    assert dataset.class_names == list(shapes.SHAPES)
    assert dataset.notice().startswith("Data: generated shapes (dSprites-like) (3,000 training")
    assert dataset.image_shape == (32, 32)
    batch = next(iter(dataset.pipeline("train", batch_size=16, binarization="none")))
    assert tuple(batch.shape) == (16, 32, 32)


def test_factors_are_drawn_from_every_value(dataset):
    idx = dataset.factors("train")
    counts = [len(v) for v in shapes.factor_values(32).values()]
    for column, count in enumerate(counts):
        assert set(np.unique(idx[:, column])) == set(range(count))


def test_centre_of_mass_recovers_the_position(dataset):
    # Square, ellipse and equilateral triangle all have their centroid at the centre the
    # generator places them at; pixelization moves the measured centroid by well under a pixel.
    x, values = dataset.test.x, dataset.values("test")
    grid = np.arange(32) + 0.5
    mass = x.sum(axis=(1, 2))
    cx = (x.sum(axis=1) * grid).sum(axis=1) / mass
    cy = (x.sum(axis=2) * grid).sum(axis=1) / mass
    assert np.abs(cx - values[:, 3]).max() < 0.6
    assert np.abs(cy - values[:, 4]).max() < 0.6


def test_area_grows_with_scale_for_each_shape(dataset):
    x, idx = dataset.test.x, dataset.factors("test")
    area = x.sum(axis=(1, 2))
    for shape in range(3):
        mean_area = [area[(idx[:, 0] == shape) & (idx[:, 1] == s)].mean() for s in range(6)]
        assert np.all(np.diff(mean_area) > 0)


def _moment_features(x):
    """Rotation-invariant shape descriptors: covariance eigenvalue ratio and third-moment skewness."""
    grid = np.arange(x.shape[1]) + 0.5
    features = []
    for image in x:
        ys, xs = np.nonzero(image)
        pts = np.stack([grid[xs], grid[ys]], axis=1)
        pts = pts - pts.mean(axis=0)
        evals, evecs = np.linalg.eigh(np.cov(pts.T))
        proj = pts @ evecs / np.sqrt(np.maximum(evals, 1e-6))
        skew = np.abs((proj ** 3).mean(axis=0))
        radial = np.linalg.norm(proj, axis=1)
        features.append([evals[0] / evals[1], skew.max(), skew.min(), radial.max(), (radial ** 4).mean()])
    return np.array(features)


def test_the_shape_can_be_classified_from_the_image(dataset):
    from sklearn.ensemble import RandomForestClassifier

    train, test = dataset.train, dataset.test
    clf = RandomForestClassifier(n_estimators=100, random_state=0)
    clf.fit(_moment_features(train.x), train.y)
    accuracy = (clf.predict(_moment_features(test.x)) == test.y).mean()
    # Chance is 1/3; the only confusions are among the smallest shapes, a few pixels wide.
    assert accuracy > 0.9


def test_bad_factor_arrays_are_rejected():
    with pytest.raises(InvalidInputError, match="shape"):
        shapes.render(np.zeros((3, 4)))
