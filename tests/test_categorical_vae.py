"""The categorical VAE: its ELBO and training loss are the equations they claim, its log p(x)
estimate meets the exact sum over every code of a small model, it trains, it saves and loads."""

import itertools

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import categorical, data, models, objectives, serialization, training
from tfvae.errors import InvalidInputError
from tfvae.models.categorical_vae import CategoricalVAE

tfd = tfp.distributions
N, K = 3, 4


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", max_train=400)


def small(estimator="gumbel_softmax", **extra):
    training.set_seed(0)
    return models.build(kind="categorical_vae", image_shape=(8, 8), latent_dim=N, hidden_units=32,
                        extra={"categories": K, "estimator": estimator, **extra})


def test_distributions_have_one_hot_events_of_n_variables():
    model = small()
    x = np.zeros((5, 8, 8), np.float32)
    q = model.encode(x)
    assert q.batch_shape == (5,) and q.event_shape == (N, K)
    assert model.prior.event_shape == (N, K)
    z = q.sample(2, seed=tf.constant([1, 1]))
    assert z.shape == (2, 5, N, K) and np.all(z.numpy().sum(axis=-1) == 1)
    assert model.decode(z).batch_shape == (2, 5)
    assert model.sample(3, seed=tf.constant([2, 2])).shape == (3, 8, 8)
    assert model.reconstruct(x).shape == (5, 8, 8)


def test_elbo_is_the_reconstruction_at_the_gumbel_max_sample_minus_the_categorical_kl(digits):
    """{eq}`eq-categorical-elbo` term by term, with TFP's own categorical KL as the check of {eq}`eq-categorical-kl`."""
    model = small()
    x = digits.binarized("train", seed=0)[:16]
    seed = tf.constant([3, 4])
    terms = model.elbo(x, n_samples=1, seed=seed)
    logits = model.posterior_logits(x)
    z = categorical.gumbel_max(logits[None], seed=seed)  # the model's draw: same shape, same seed
    np.testing.assert_allclose(terms.reconstruction, model.decode(z[0]).log_prob(x), rtol=1e-5)
    tfp_kl = tfd.kl_divergence(model.encode(x), model.prior)
    # float32 sums of a few nats: 1e-5 relative is rounding.
    np.testing.assert_allclose(terms.kl, tfp_kl, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(terms.elbo, terms.reconstruction - terms.kl, rtol=1e-6)


@pytest.mark.parametrize("estimator", ["gumbel_softmax", "straight_through"])
def test_training_loss_decodes_the_relaxed_or_straight_through_sample(digits, estimator):
    model = small(estimator, temperature=0.7)
    model.kl_weight.assign(0.5)
    x = digits.binarized("train", seed=0)[:16]
    seed = tf.constant([5, 6])
    terms = model.loss_terms(x, seed=seed)
    logits = model.posterior_logits(x)
    noise = categorical.gumbel_noise(tf.shape(logits), seed)
    hard = categorical.gumbel_max(logits, noise=noise)
    relaxed = categorical.gumbel_softmax(logits, 0.7, noise=noise)
    kl = model.kl(logits)
    trained = model.decode(hard if estimator == "straight_through" else relaxed).log_prob(x)
    # float32 means of ~40-nat terms: 1e-5 relative is rounding.
    np.testing.assert_allclose(terms["loss"], -np.mean(trained - 0.5 * kl), rtol=1e-5)
    # Whatever the decoder trained on, the reported ELBO is the discrete one, at the one-hot sample of the same noise.
    np.testing.assert_allclose(terms["elbo"], model.decode(hard).log_prob(x) - kl, rtol=1e-5)


def test_marginal_log_likelihood_meets_the_exact_sum_over_all_codes(digits):
    """With N = 3 variables of K = 4 categories there are 64 codes: log p(x) is an exact log-sum-exp."""
    model = small()
    training.fit(model, digits, epochs=2, batch_size=50, binarization="static", validate=False, verbose=0)
    x = digits.binarized("test", seed=0)[:8]
    codes = np.array(list(itertools.product(range(K), repeat=N)))  # (64, N)
    z = model.one_hot(codes)[:, None]  # (64, 1, N, K)
    log_joint = (model.decode(z).log_prob(x) - N * np.log(K)).numpy()  # log p(x, z) for every code: (64, 8)
    exact = np.logaddexp.reduce(log_joint, axis=0)
    k = 4000
    estimate = objectives.marginal_log_likelihood(model, x, k=k, chunk_size=1000)
    # The estimate's standard error, from the exact relative variance of the weights w = p(x, z) / q(z|x) under q:
    # Var(log mean w) ~ (E_q[w^2] / p(x)^2 - 1) / k.
    log_q = model.encode(x).log_prob(z).numpy()
    relative_variance = np.exp(np.logaddexp.reduce(2 * log_joint - log_q, axis=0) - 2 * exact) - 1
    standard_error = np.sqrt(relative_variance / k)
    assert np.all(np.abs(estimate - exact) < 5 * standard_error + 1e-4)
    elbo = model.elbo(x, n_samples=2000).elbo.numpy()
    assert np.all(elbo < exact)


def test_training_raises_the_discrete_elbo(digits):
    model = small("straight_through")
    history = training.fit(model, digits, epochs=8, batch_size=50, binarization="dynamic", validate=False, verbose=0)
    assert np.all(np.isfinite(history["loss"]))
    # 8 epochs on 400 digits: the ELBO climbs by several nats, far beyond epoch-to-epoch noise.
    assert history["elbo"][-1] > history["elbo"][0] + 3


def test_save_and_load_give_the_same_model(digits, tmp_path):
    model = small("straight_through", temperature=0.6)
    serialization.save(model, tmp_path / "cat")
    loaded = serialization.load(tmp_path / "cat")
    assert isinstance(loaded, CategoricalVAE) and loaded.categories == K and loaded.estimator == "straight_through"
    assert float(loaded.temperature.numpy()) == pytest.approx(0.6)
    x = digits.binarized("test", seed=0)[:8]
    seed = tf.constant([1, 2])
    np.testing.assert_allclose(loaded.elbo(x, seed=seed).elbo, model.elbo(x, seed=seed).elbo, rtol=1e-6)


def test_code_indices_and_one_hot_round_trip():
    model = small()
    x = np.random.default_rng(0).random((6, 8, 8)).astype(np.float32)
    indices = model.code_indices(x)
    assert indices.shape == (6, N) and indices.min() >= 0 and indices.max() < K
    np.testing.assert_array_equal(model.one_hot(indices).numpy(), model.encode(x).mode().numpy())


@pytest.mark.parametrize("settings, message", [
    (dict(extra={"categories": 1}), "categories"),
    (dict(extra={"estimator": "reinforce"}), "categorical estimator"),
    (dict(extra={"temperature": 0.0}), "temperature"),
    (dict(extra={"temperature": "hot"}), "temperature"),
    (dict(objective="iwae"), "objective 'iwae'"),
])
def test_bad_settings_are_named(settings, message):
    with pytest.raises(InvalidInputError, match=message):
        models.build(kind="categorical_vae", image_shape=(8, 8), latent_dim=2, hidden_units=8, **settings)


@pytest.mark.parametrize("codes, message", [(np.zeros((2, N + 1)), "variables"), (np.full((2, N), K), "category")])
def test_bad_codes_are_named(codes, message):
    with pytest.raises(InvalidInputError, match=message):
        small().one_hot(codes)
