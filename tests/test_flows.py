"""Inverse autoregressive flows (tfvae.models.flows) and the VAE with a flow posterior (tfvae.models.iaf_vae)."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfvae import data, linear_gaussian, models, objectives, serialization, training
from tfvae.errors import InvalidInputError
from tfvae.models import flows


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


def randomized_network(dim, context_units=3, hidden_units=12, reverse=False, seed=0):
    """An AutoregressiveNetwork whose output weights are no longer zero, so that every path is live."""
    network = flows.AutoregressiveNetwork(dim, context_units, hidden_units, reverse=reverse)
    rng = np.random.default_rng(seed)
    network.output_kernel.assign(rng.normal(scale=0.5, size=network.output_kernel.shape).astype(np.float32))
    return network


@pytest.mark.parametrize("dim,hidden,reverse", [(1, 4, False), (2, 3, False), (5, 4, False), (5, 9, True), (7, 30, True)])
def test_masks_connect_exactly_the_earlier_inputs(dim, hidden, reverse):
    into_hidden, into_output = flows.autoregressive_masks(dim, hidden, reverse=reverse)
    assert into_hidden.shape == (dim, hidden) and into_output.shape == (hidden, dim)
    order = np.arange(dim)[::-1] if reverse else np.arange(dim)
    earlier = order[:, None] < order[None, :]
    paths = into_hidden @ into_output
    assert not np.any(paths[~earlier])  # never a path from a later (or the same) input
    if hidden >= dim - 1:  # every degree is used: every earlier input has a path
        assert np.all(paths[earlier] > 0)


@pytest.mark.parametrize("reverse", [False, True])
def test_network_outputs_depend_only_on_earlier_coordinates(reverse):
    dim = 5
    network = randomized_network(dim, reverse=reverse)
    z = tf.random.stateless_normal((4, dim), seed=[1, 1])
    context = tf.random.stateless_normal((4, 3), seed=[1, 2])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(z)
        shift, gate_logit = network(z, context)
    order = np.arange(dim)[::-1] if reverse else np.arange(dim)
    allowed = order[None, :] < order[:, None]  # output j (row) may depend on input i (column)
    for output in (shift, gate_logit):
        jacobian = tape.batch_jacobian(output, z).numpy()
        assert np.all(jacobian[:, ~allowed] == 0)
        assert np.any(jacobian[:, allowed] != 0)


def test_new_network_starts_at_the_identity_gate():
    network = flows.AutoregressiveNetwork(3, 2, 8)
    shift, gate_logit = network(tf.ones((2, 3)), tf.ones((2, 2)))
    np.testing.assert_array_equal(shift, 0.0)
    np.testing.assert_array_equal(gate_logit, flows.GATE_BIAS)


def test_step_log_det_is_the_jacobians_and_the_inverse_undoes_it():
    dim = 4
    networks = [randomized_network(dim, seed=0), randomized_network(dim, reverse=True, seed=1)]
    context = tf.random.stateless_normal((6, 3), seed=[2, 2])
    z = tf.random.stateless_normal((6, dim), seed=[2, 3])
    flow = flows.flow_bijector(networks, context)
    with tf.GradientTape() as tape:
        tape.watch(z)
        y = flow.forward(z)
    jacobian = tape.batch_jacobian(y, z).numpy().astype(np.float64)
    np.testing.assert_allclose(flow.forward_log_det_jacobian(z, event_ndims=1), np.linalg.slogdet(jacobian)[1],
                               rtol=1e-4, atol=1e-4)
    step = flows.InverseAutoregressiveStep(networks[0], context)
    with tf.GradientTape() as tape:
        tape.watch(z)
        y1 = step.forward(z)
    step_jacobian = tape.batch_jacobian(y1, z).numpy()
    assert np.all(np.triu(step_jacobian, k=1) == 0)
    np.testing.assert_allclose(np.log(np.diagonal(step_jacobian, axis1=1, axis2=2)).sum(-1),
                               step.forward_log_det_jacobian(z, event_ndims=1), rtol=1e-5, atol=1e-5)
    fresh = flows.flow_bijector(networks, context)  # no cached pairs: the sequential inverse runs
    np.testing.assert_allclose(fresh.inverse(tf.identity(y)), z, atol=1e-4)


def test_flow_density_is_the_change_of_variables():
    dim = 2
    networks = [randomized_network(dim, context_units=1, seed=3)]
    context = tf.ones((1, 1))
    q = flows.flow_distribution(tf.constant([0.3, -0.2]), tf.constant([-0.5, 0.2]), networks, context)
    # The density integrates to one (a Riemann sum on a grid that holds its mass).
    grid = np.linspace(-7, 7, 351)
    zz = np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2).astype(np.float32)
    mass = np.exp(q.log_prob(zz).numpy()).sum() * (grid[1] - grid[0]) ** 2
    assert mass == pytest.approx(1.0, abs=2e-3)
    # The log-density of its own samples (the bijector's cache) equals that of the same points given afresh.
    z = q.sample(50, seed=tf.constant([4, 4]))
    np.testing.assert_allclose(q.log_prob(z), q.log_prob(tf.constant(z.numpy())), rtol=1e-4, atol=1e-4)
    # With no steps it is the diagonal Gaussian.
    plain = flows.flow_distribution(tf.zeros(2), tf.zeros(2), [], context)
    np.testing.assert_allclose(plain.log_prob(zz[:5]), -0.5 * (zz[:5] ** 2).sum(-1) - math.log(2 * math.pi), rtol=1e-6)


def test_fit_flow_reaches_the_best_diagonal_gaussian_and_the_flow_passes_it():
    rng = np.random.default_rng(1)
    weights = rng.normal(size=(6, 2))
    weights[:, 1] = weights[:, 0] + 0.3 * rng.normal(size=6)
    model = linear_gaussian.LinearGaussian(weights, np.zeros(6), 0.5)
    x = tf.constant(model.sample(1, seed=1).numpy(), tf.float64)
    log_evidence = float(model.log_evidence(x.numpy())[0])
    _, covariance = model.posterior_parameters(x.numpy())
    precision = np.linalg.inv(covariance.numpy())
    best_gap = 0.5 * (np.log(np.diag(precision)).sum() - np.linalg.slogdet(precision)[1])
    assert best_gap > 0.3  # the test needs a correlated posterior

    def log_joint(z):
        z = tf.cast(z, tf.float64)
        return tf.cast(model.decode(z).log_prob(x) + model.prior.log_prob(z), tf.float32)

    gaps = {}
    for steps in (0, 2):
        q = flows.fit_flow(log_joint, 2, flow_steps=steps, iterations=800)
        z = q.sample(20000, seed=tf.constant([5, steps]))
        gaps[steps] = log_evidence - float(np.mean(log_joint(z) - q.log_prob(z)))
        if steps == 0:  # the best diagonal Gaussian has the conditional variances 1 / Lambda_jj
            np.testing.assert_allclose(z.numpy().var(axis=0), 1 / np.diag(precision), rtol=0.1)
    assert gaps[0] == pytest.approx(best_gap, abs=0.05)
    assert gaps[2] < 0.2 * best_gap


@pytest.mark.parametrize("steps", [-1, 1.5, True])
def test_fit_flow_refuses_a_bad_number_of_steps(steps):
    with pytest.raises(InvalidInputError, match="flow_steps"):
        flows.fit_flow(lambda z: -tf.reduce_sum(z ** 2, -1), 2, flow_steps=steps)


def test_iaf_vae_elbo_is_the_sampled_estimator(digits):
    model = models.build(kind="vae_iaf", image_shape=(8, 8), latent_dim=3, hidden_units=16,
                         extra={"flow_steps": 2, "context_units": 4, "flow_hidden_units": 8})
    for network in model.flow_networks:
        network.output_kernel.assign(np.random.default_rng(0).normal(scale=0.3, size=network.output_kernel.shape))
    x = digits.binarized("train")[:8]
    seed = tf.constant([1, 2])
    terms = model.elbo(x, seed=seed)
    q = model.encode(x)
    assert q.event_shape == (3,) and q.batch_shape == (8,)
    z = q.sample(1, seed=seed)
    fresh = model.encode(x)  # a new flow: its log_prob runs the sequential inverse
    expected = model.decode(z).log_prob(x)[0] + model.prior.log_prob(z)[0] - fresh.log_prob(tf.constant(z.numpy()))[0]
    np.testing.assert_allclose(terms.elbo, expected, rtol=1e-4, atol=1e-3)
    assert model.reconstruct(x).shape == (8, 8, 8)
    bound = objectives.importance_weighted_bound(x, model.encode, model.decode, model.prior, k=50,
                                                 seed=tf.constant([3, 3]))
    assert np.all(bound.numpy() > terms.elbo.numpy() - 5)  # finite and of the ELBO's size


def test_iaf_vae_trains_saves_and_loads(digits, tmp_path):
    training.set_seed(0)
    model = models.build(kind="vae_iaf", image_shape=(8, 8), latent_dim=2, hidden_units=32,
                         extra={"flow_steps": 2, "context_units": 4, "flow_hidden_units": 8})
    before = model.flow_networks[1].output_kernel.numpy().copy()
    history = training.fit(model, digits, epochs=5, binarization="static", verbose=0)
    assert np.all(np.isfinite(history["loss"])) and history["loss"][-1] < history["loss"][0]
    assert not np.allclose(model.flow_networks[1].output_kernel.numpy(), before)  # the flow itself was learned
    serialization.save(model, tmp_path / "m")
    loaded = serialization.load(tmp_path / "m")
    x = digits.binarized("test")[:5]
    seed = tf.constant([7, 7])
    np.testing.assert_allclose(loaded.elbo(x, seed=seed).elbo, model.elbo(x, seed=seed).elbo, rtol=1e-6)


def test_iaf_vae_refuses_settings_a_flow_posterior_cannot_honour():
    with pytest.raises(InvalidInputError, match="free bits"):
        models.build(kind="vae_iaf", image_shape=(8, 8), latent_dim=2, hidden_units=8, free_bits=0.5)
    with pytest.raises(InvalidInputError, match="objective"):
        models.build(kind="vae_iaf", image_shape=(8, 8), latent_dim=2, hidden_units=8, objective="wake_sleep")
    with pytest.raises(InvalidInputError, match="flow_steps"):
        models.build(kind="vae_iaf", image_shape=(8, 8), latent_dim=2, hidden_units=8, extra={"flow_steps": 0})
