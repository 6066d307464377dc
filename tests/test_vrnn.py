"""The variational RNN (tfvae.models.vrnn) on the one training loop, the deterministic RNN it is
compared with, its linear-Gaussian check, and the sequences they train on (tfvae.data, tfvae.sequences)."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import data, models, sequences, serialization, training
from tfvae.errors import CheckpointError, InvalidInputError
from tfvae.models import vrnn

tfd = tfp.distributions


def small_vrnn(steps=6, **settings):
    settings = dict(dict(latent_dim=2, state_dim=8, hidden_units=8), **settings)
    return models.build(vrnn.vrnn_config(steps, **settings))


@pytest.mark.parametrize("process", sorted(sequences.PROCESSES))
def test_synthetic_sequences_are_deterministic_and_shaped(process):
    generate = sequences.PROCESSES[process]
    a, b = generate(50, 30, seed=3), generate(50, 30, seed=3)
    assert a.shape == (50, 30, 1) and a.dtype == np.float32
    assert np.array_equal(a, b)
    assert not np.array_equal(a, generate(50, 30, seed=4))


def test_a_synthetic_sequence_dataset_has_three_different_splits_of_one_shape():
    ds = sequences.dataset("regime_sines", 20, 5, 7, steps=9, seed=1)
    assert (len(ds.train), len(ds.validation), len(ds.test)) == (20, 5, 7)
    assert ds.sequence_shape == (9, 1) and ds.examples == "sequences"
    assert not np.array_equal(ds.train.x[:5], ds.validation.x)
    np.testing.assert_array_equal(ds.train.x, sequences.regime_sines(20, 9, seed=3))
    assert "20 train" in repr(ds) and ds.name in ds.notice()
    with pytest.raises(InvalidInputError, match="unknown sequence process 'sines'"):
        sequences.dataset("sines")


def test_the_coin_flip_walks_steps_are_the_two_peaked_mixture_its_likelihood_scores():
    x = sequences.coin_flip_walk(4000, 3, seed=0)[..., 0]
    steps = x[:, 1:] - sequences.COIN_FLIP_DECAY * x[:, :-1]
    # Half the steps near +j, half near -j, each with the noise's spread.
    up = steps > 0
    assert abs(up.mean() - 0.5) < 0.02
    np.testing.assert_allclose([steps[up].mean(), -steps[~up].mean()], sequences.COIN_FLIP_JUMP, atol=0.005)
    np.testing.assert_allclose(steps[up].std(), sequences.COIN_FLIP_NOISE, rtol=0.05)
    # The exact log-likelihood, against scipy's mixture density written out step by step.
    from scipy import stats
    seqs = sequences.coin_flip_walk(3, 5, seed=1)
    previous = np.concatenate([np.zeros((3, 1)), seqs[:, :-1, 0]], axis=1)
    loc = sequences.COIN_FLIP_DECAY * previous
    density = 0.5 * (stats.norm.pdf(seqs[..., 0], loc + sequences.COIN_FLIP_JUMP, sequences.COIN_FLIP_NOISE)
                     + stats.norm.pdf(seqs[..., 0], loc - sequences.COIN_FLIP_JUMP, sequences.COIN_FLIP_NOISE))
    np.testing.assert_allclose(sequences.coin_flip_log_likelihood(seqs), np.log(density).sum(axis=1), rtol=1e-6)


@pytest.mark.parametrize("arrays, message", [
    ((np.zeros((4, 5)), np.zeros((2, 5, 1)), np.zeros((2, 5, 1))), r"shape \(n, steps, x_dim\)"),
    ((np.zeros((4, 5, 1)), np.zeros((2, 6, 1)), np.zeros((2, 5, 1))), "validation sequences have shape"),
    ((np.zeros((4, 5, 1)), np.full((2, 5, 1), np.nan), np.zeros((2, 5, 1))), "NaN"),
])
def test_bad_sequence_arrays_are_refused_by_name(arrays, message):
    with pytest.raises(InvalidInputError, match=message):
        data.sequence_dataset(*arrays, name="toy", source="test")


def test_vrnn_elbo_is_a_sum_of_per_step_terms():
    model = small_vrnn()
    x = sequences.regime_sines(5, 6)
    seed = tf.constant([0, 7])
    terms = model.elbo(x, seed=seed)
    # The same computation written out step by step with TFP's own KL.
    noise = tf.random.stateless_normal([6, 5, 2], seed=seed)
    h = tf.zeros([5, 8])
    expected = np.zeros(5)
    for t in range(6):
        prior, posterior = model.step_prior(h), model.step_posterior(x[:, t], h)
        z = posterior.mean() + posterior.stddev() * noise[t]
        expected += (model.step_decoder(z, h).log_prob(x[:, t]) - tfd.kl_divergence(posterior, prior)).numpy()
        h, _ = model.cell(tf.concat([x[:, t], z], -1), [h])
    np.testing.assert_allclose(terms.elbo, expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(terms.elbo, terms.reconstruction - terms.kl, rtol=1e-6, atol=1e-5)


def test_the_training_loss_weights_the_kl_and_applies_free_bits_per_step_and_unit():
    model = small_vrnn()
    x = sequences.regime_sines(8, 6)
    seed = tf.constant([3, 4])
    reconstruction, kl = (t.numpy() for t in model.step_terms(x, seed))
    assert reconstruction.shape == (6, 8) and kl.shape == (6, 8, 2)
    model.kl_weight.assign(0.25)
    expected = -np.mean(reconstruction.sum(0) - 0.25 * kl.sum(axis=(0, 2)))
    np.testing.assert_allclose(model.loss_terms(x, seed)["loss"], expected, rtol=1e-5)
    free = small_vrnn(free_bits=1.0)  # same seed, same weights
    free.kl_weight.assign(1.0)
    clipped = np.maximum(kl.mean(axis=1), 1.0).sum()
    terms = free.loss_terms(x, seed)
    np.testing.assert_allclose(terms["loss"], -np.mean(reconstruction.sum(0)) + clipped, rtol=1e-5)
    np.testing.assert_allclose(terms["elbo"], reconstruction.sum(0) - kl.sum(axis=(0, 2)), rtol=1e-5, atol=1e-4)


def test_vrnn_trains_on_the_one_loop_raises_the_elbo_and_generates_sequences():
    training.set_seed(0)
    ds = sequences.dataset("regime_sines", 256, 64, 64, steps=20, seed=0)
    model = models.build(vrnn.vrnn_config(20, latent_dim=2, state_dim=16, hidden_units=16))
    history = training.fit(model, ds, epochs=6, batch_size=32, learning_rate=3e-3, jit_compile=False, verbose=0)
    assert np.all(np.isfinite(history["elbo"])) and len(history["val_elbo"]) == 6
    # Six epochs move the per-sequence ELBO by far more than its minibatch noise (a few nats).
    assert history["elbo"][-1] > history["elbo"][0] + 5
    samples = model.generate(3, 25, seed=1)
    assert samples.shape == (3, 25, 1) and np.isfinite(samples).all()


def test_kl_warmup_drives_the_vrnn_kl_weight():
    training.set_seed(0)
    ds = sequences.dataset("regime_sines", 64, 32, 32, steps=5, seed=0)
    model = small_vrnn(steps=5)
    warmup = training.KLWarmup(4)
    training.fit(model, ds, epochs=2, batch_size=32, jit_compile=False, verbose=0, callbacks=[warmup])
    assert [beta for _, beta in warmup.history] == [0.0, 0.25]
    assert float(model.kl_weight.numpy()) == 0.25


def test_a_vrnn_run_saves_loads_and_resumes_to_the_uninterrupted_weights(tmp_path):
    ds = sequences.dataset("regime_sines", 96, 32, 32, steps=5, seed=2)
    settings = dict(epochs=3, batch_size=32, jit_compile=False, verbose=0)
    training.set_seed(0)
    straight = small_vrnn(steps=5)
    training.fit(straight, ds, **settings)
    training.set_seed(0)
    first = small_vrnn(steps=5)
    training.fit(first, ds, **dict(settings, epochs=2), out_dir=tmp_path / "run")
    with pytest.raises(CheckpointError, match="already holds checkpoints"):
        training.fit(small_vrnn(steps=5), ds, **settings, out_dir=tmp_path / "run")
    resumed = small_vrnn(steps=5)
    training.fit(resumed, ds, **settings, out_dir=tmp_path / "run", resume=True)
    for a, b in zip(straight.weights, resumed.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    loaded = serialization.load(tmp_path / "run")
    assert isinstance(loaded, vrnn.VRNN) and loaded.config == resumed.config
    x = ds.test.x
    np.testing.assert_array_equal(loaded.elbo(x, seed=[0, 1]).elbo, resumed.elbo(x, seed=[0, 1]).elbo)


def test_vrnn_without_sequential_prior_uses_a_standard_normal():
    model = small_vrnn(latent_dim=3, state_dim=4, hidden_units=4, sequential_prior=False)
    p = model.step_prior(tf.random.normal([2, 4]))
    np.testing.assert_array_equal(p.mean(), np.zeros((2, 3)))
    np.testing.assert_array_equal(p.stddev(), np.ones((2, 3)))


@pytest.mark.parametrize("settings, message", [
    ({"likelihood": "bernoulli"}, "likelihood 'gaussian'"),
    ({"objective": "iwae"}, "trains on 'elbo'"),
    ({"extra": {"state_dim": 4, "layers": 2}}, "unknown VRNN settings: layers"),
])
def test_settings_a_vrnn_cannot_honour_are_refused(settings, message):
    config = vrnn.vrnn_config(5)
    with pytest.raises(InvalidInputError, match=message):
        models.build(config, **settings)


def test_a_vrnn_refuses_sequences_of_another_shape():
    ds = sequences.dataset("regime_sines", 8, 4, 4, steps=7)
    with pytest.raises(InvalidInputError, match=r"sequences has shape \(8, 7, 1\); expected \(n, 5, 1\)"):
        training.fit(small_vrnn(steps=5), ds, epochs=1, verbose=0)


# --- the deterministic RNN the VRNN is compared with -------------------------------------------

def test_the_gaussian_rnn_log_likelihood_is_a_sum_of_one_step_gaussians():
    model = models.build(vrnn.gaussian_rnn_config(6, state_dim=8, hidden_units=8))
    x = sequences.coin_flip_walk(5, 6)
    h, expected = tf.zeros([5, 8]), np.zeros(5)
    for t in range(6):
        mean, scale = vrnn._mean_and_scale(model.decoder_net(h))
        expected += tfd.MultivariateNormalDiag(mean, scale).log_prob(x[:, t]).numpy()
        h, _ = model.cell(x[:, t], [h])
    np.testing.assert_allclose(model.log_likelihood(x), expected, rtol=1e-5)


def test_the_gaussian_rnn_trains_on_the_one_loop_towards_the_best_single_gaussian():
    """On the coin-flip walk the best one-Gaussian next-step model has variance j^2 + sigma^2;
    no RNN with Gaussian outputs can beat its expected log-likelihood, and training nears it."""
    training.set_seed(0)
    ds = sequences.dataset("coin_flip_walk", 512, 64, 500, steps=10, seed=0)
    model = models.build(vrnn.gaussian_rnn_config(10, state_dim=16, hidden_units=16))
    history = training.fit(model, ds, epochs=15, batch_size=32, learning_rate=3e-3, jit_compile=False, verbose=0)
    assert history["log_likelihood"][-1] > history["log_likelihood"][0]
    variance = sequences.COIN_FLIP_JUMP ** 2 + sequences.COIN_FLIP_NOISE ** 2
    best_gaussian = -0.5 * np.log(2 * np.pi * np.e * variance) * 10
    test = model.log_likelihood(ds.test.x).numpy()
    se = test.std() / np.sqrt(len(test))
    assert test.mean() < best_gaussian + 3 * se
    assert test.mean() > best_gaussian - 1.0  # within a nat of it per sequence of 10 steps


def test_a_gaussian_rnn_refuses_settings_it_has_no_use_for():
    with pytest.raises(InvalidInputError, match="unknown Gaussian RNN settings: sequential_prior"):
        models.build(vrnn.gaussian_rnn_config(5), extra={"state_dim": 4, "sequential_prior": True})


# --- the linear-Gaussian VRNN: the VRNN's ELBO against a Kalman filter --------------------------

def linear_gaussian_vrnn():
    return vrnn.LinearGaussianVRNN([[0.9, 0.2], [-0.3, 0.8]], [0.3, 0.2], [1.0, 0.7], [0.1, 0.2])


def gap_to_exact(model, length, n=300, repeats=50):
    """Per-sequence log p(x) - ELBO (the ELBO averaged over `repeats` noise draws): mean and standard error."""
    x = model.state_space_model(length).sample(n, seed=[1, length]).numpy()
    elbo = model.elbo(np.repeat(x, repeats, axis=0), seed=tf.constant([2, length])).elbo.numpy()
    gap = model.exact_log_likelihood(x).numpy() - elbo.reshape(n, repeats).mean(axis=1)
    return gap.mean(), gap.std(ddof=1) / np.sqrt(n)


def test_one_step_elbo_with_the_exact_posterior_equals_the_kalman_log_likelihood():
    mean, se = gap_to_exact(linear_gaussian_vrnn(), 1)
    assert abs(mean) < 3 * se and se < 0.01  # Monte Carlo error only, and small enough to mean something


def test_longer_sequences_are_strictly_bounded_by_the_kalman_log_likelihood():
    mean, se = gap_to_exact(linear_gaussian_vrnn(), 10)
    assert mean > 3 * se  # q sees x_t and the past, not the future: a strict bound


def test_a_vrnn_whose_kl_is_dropped_no_longer_matches_the_kalman_filter(monkeypatch):
    monkeypatch.setattr(vrnn.objectives, "gaussian_kl_terms", lambda *args: tf.zeros_like(args[0]))
    mean, se = gap_to_exact(linear_gaussian_vrnn(), 1)
    assert abs(mean) > 3 * se


@pytest.mark.parametrize("bad", [{"transition": [1.0, 2.0]}, {"transition_variance": [0.3, -0.2]},
                                 {"observation_variance": [0.1]}, {"observation_scale": [1.0, float("nan")]}])
def test_bad_linear_gaussian_settings_are_refused_by_name(bad):
    settings = dict(transition=[[0.9, 0.2], [-0.3, 0.8]], transition_variance=[0.3, 0.2],
                    observation_scale=[1.0, 0.7], observation_variance=[0.1, 0.2])
    settings.update(bad)
    with pytest.raises(InvalidInputError, match=next(iter(bad))):
        vrnn.LinearGaussianVRNN(**settings)
