"""Specifications of tfvae.metrics.latent_paths: paths that start and end where they should and
move the way their equations say, the midpoint-norm identity against its exact Gaussian value, and
perturbations of the requested size."""

import numpy as np
import pytest

from tfvae.errors import InvalidInputError
from tfvae.metrics import latent_paths


def _codes(n=6, d=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(np.float32), rng.normal(size=(n, d)).astype(np.float32)


def test_linear_path_runs_from_start_to_end_through_the_average():
    a, b = _codes()
    path = latent_paths.linear_path(a, b, 5)
    assert path.shape == (5, 6, 5)
    np.testing.assert_allclose(path[0], a, atol=1e-6)
    np.testing.assert_allclose(path[-1], b, atol=1e-6)
    np.testing.assert_allclose(path[2], (a + b) / 2, atol=1e-6)
    np.testing.assert_allclose(path[1], 0.75 * a + 0.25 * b, atol=1e-6)


def test_spherical_path_moves_the_norm_linearly_and_the_direction_along_the_great_circle():
    a, b = _codes()
    n_points = 7
    path = latent_paths.spherical_path(a, b, n_points).astype(np.float64)
    t = np.linspace(0, 1, n_points)[:, None]
    norm_a, norm_b = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(np.linalg.norm(path, axis=2), (1 - t) * norm_a + t * norm_b, rtol=1e-5)
    np.testing.assert_allclose(path[0], a, atol=1e-5)
    np.testing.assert_allclose(path[-1], b, atol=1e-5)
    u_a, u_b = a / norm_a[:, None], b / norm_b[:, None]
    omega = np.arccos(np.sum(u_a * u_b, axis=1))
    u_t = path / np.linalg.norm(path, axis=2, keepdims=True)
    # constant angular speed: the angle to u_a is t * omega and the angle to u_b is (1 - t) * omega,
    # so the direction stays in the plane of u_a and u_b (compared as cosines; arccos is ill-conditioned near 0)
    np.testing.assert_allclose(np.sum(u_t * u_a, axis=2), np.cos(t * omega), atol=1e-5)
    np.testing.assert_allclose(np.sum(u_t * u_b, axis=2), np.cos((1 - t) * omega), atol=1e-5)


def test_spherical_path_between_codes_of_one_direction_is_the_linear_path():
    a = np.array([[1.0, 2.0, -1.0]], np.float32)
    np.testing.assert_allclose(latent_paths.spherical_path(a, 3 * a, 5), latent_paths.linear_path(a, 3 * a, 5),
                               atol=1e-5)


def test_expected_midpoint_sq_norm_matches_the_gaussian_value_and_independent_pairs():
    # For z ~ N(mu, I_d): E|z|^2 = d + |mu|^2 and |E z|^2 = |mu|^2, so the midpoint's is d/2 + |mu|^2.
    rng = np.random.default_rng(1)
    d, mu = 8, np.full(8, 0.5)
    z = rng.normal(mu, 1.0, size=(200_000, d))
    exact = d / 2 + np.sum(mu ** 2)
    assert latent_paths.expected_midpoint_sq_norm(z) == pytest.approx(exact, rel=0.01)
    i, j = rng.integers(0, len(z), (2, 200_000))
    assert np.mean(np.sum(((z[i] + z[j]) / 2) ** 2, axis=1)) == pytest.approx(exact, rel=0.01)
    centred = z - mu
    assert latent_paths.expected_midpoint_sq_norm(centred) == pytest.approx(d / 2, rel=0.01)


def test_perturbed_steps_have_the_requested_size_in_the_codes_own_units():
    rng = np.random.default_rng(2)
    z = (rng.normal(size=(50_000, 3)) * np.array([10.0, 1.0, 0.1])).astype(np.float32)
    moved = latent_paths.perturbed(z, 0.5, seed=3)
    np.testing.assert_allclose((moved - z).std(axis=0) / z.std(axis=0), 0.5, rtol=0.02)
    np.testing.assert_array_equal(latent_paths.perturbed(z, 0.5, seed=3), moved)
    np.testing.assert_array_equal(latent_paths.perturbed(z, 0.0, seed=3), z)


def test_pairs_of_different_classes_are_pairs_of_different_classes():
    labels = np.array([0, 0, 0, 0, 1, 2])
    i, j = latent_paths.pairs_of_different_classes(labels, 50, seed=0)
    assert len(i) == len(j) == 50
    assert np.all(labels[i] != labels[j])


@pytest.mark.parametrize("call, message", [
    (lambda: latent_paths.linear_path(np.zeros((2, 3)), np.zeros((2, 4)), 5), "one shape"),
    (lambda: latent_paths.linear_path(np.zeros(3), np.zeros(3), 5), "shape"),
    (lambda: latent_paths.linear_path(np.zeros((2, 3)), np.full((2, 3), np.nan), 5), "NaN"),
    (lambda: latent_paths.linear_path(np.zeros((2, 3)), np.zeros((2, 3)), 1), "n_points >= 2"),
    (lambda: latent_paths.spherical_path(np.zeros((1, 3)), np.ones((1, 3)), 3), "nonzero"),
    (lambda: latent_paths.perturbed(np.ones((4, 2)), -1.0, seed=0), "scale"),
    (lambda: latent_paths.perturbed(np.ones((1, 2)), 1.0, seed=0), "at least 2"),
    (lambda: latent_paths.pairs_of_different_classes(np.zeros(5, int), 3, seed=0), "at least 2 classes"),
    (lambda: latent_paths.pairs_of_different_classes(np.zeros(5), 3, seed=0), "integers"),
])
def test_bad_input_is_refused_with_a_message(call, message):
    with pytest.raises(InvalidInputError, match=message):
        call()
