"""The objectives of tfvae.objectives, checked against closed forms, TFP and Monte Carlo.

The reference model is probabilistic PCA (tfvae.linear_gaussian), whose log-evidence,
posterior and ELBO are known exactly, so Monte Carlo estimators can be compared with the
truth instead of with each other. Every random draw uses a fixed stateless seed, so the
tests are deterministic; the tolerances are still set from the estimators' standard
errors, so they would hold for almost any seed.
"""

import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import objectives
from tfvae.linear_gaussian import LinearGaussian

tfd = tfp.distributions


def seed(*values):
    return tf.constant(values, tf.int32)


@pytest.fixture(scope="module")
def ppca():
    rng = np.random.default_rng(0)
    return LinearGaussian(rng.normal(size=(6, 3)), rng.normal(size=6), noise_variance=0.5)


@pytest.fixture(scope="module")
def data(ppca):
    return ppca.sample(40, seed=0)


def shifted_diagonal_q(model, shift=0.3, widen=1.5):
    """An encoder that is deliberately wrong: the posterior's mean shifted, its diagonal widened, correlations dropped."""
    def encode(x):
        mean, covariance = model.posterior_parameters(x)
        return tfd.MultivariateNormalDiag(mean + shift, widen * tf.sqrt(tf.linalg.diag_part(covariance)))
    return encode


def random_gaussians(rng, n=5, d=4, dtype=np.float64):
    return [rng.normal(size=(n, d)).astype(dtype), rng.normal(size=(n, d)).astype(dtype),
            rng.normal(size=(n, d)).astype(dtype), rng.normal(size=(n, d)).astype(dtype)]


# --- the Gaussian KL -----------------------------------------------------------

def test_gaussian_kl_equals_tfp_kl_divergence():
    mq, lvq, mp, lvp = random_gaussians(np.random.default_rng(1))
    expected = tfd.kl_divergence(tfd.MultivariateNormalDiag(mq, np.exp(0.5 * lvq)),
                                 tfd.MultivariateNormalDiag(mp, np.exp(0.5 * lvp)))
    # Both are float64 closed forms of the same sum over 4 terms: agreement to ~1e-15 relative.
    np.testing.assert_allclose(objectives.gaussian_kl(mq, lvq, mp, lvp), expected, rtol=1e-12)


def test_gaussian_kl_matches_monte_carlo_within_standard_error():
    mq, lvq, mp, lvp = random_gaussians(np.random.default_rng(2), n=3)
    q = tfd.MultivariateNormalDiag(mq, np.exp(0.5 * lvq))
    p = tfd.MultivariateNormalDiag(mp, np.exp(0.5 * lvp))
    z = q.sample(200_000, seed=seed(2, 0))
    log_ratio = (q.log_prob(z) - p.log_prob(z)).numpy()
    estimate, standard_error = log_ratio.mean(axis=0), log_ratio.std(axis=0) / math.sqrt(len(log_ratio))
    # 5 standard errors: a correct formula fails with probability ~6e-7 per entry.
    np.testing.assert_array_less(np.abs(objectives.gaussian_kl(mq, lvq, mp, lvp).numpy() - estimate),
                                 5 * standard_error)


def test_standard_normal_kl_equals_gaussian_kl_with_a_standard_normal_prior():
    mean, log_var, _, _ = random_gaussians(np.random.default_rng(3))
    zeros = np.zeros_like(mean)
    np.testing.assert_allclose(objectives.standard_normal_kl(mean, log_var),
                               objectives.gaussian_kl(mean, log_var, zeros, zeros), rtol=1e-12)


def test_kl_of_a_gaussian_to_itself_is_zero():
    mean, log_var, _, _ = random_gaussians(np.random.default_rng(4))
    assert np.all(objectives.gaussian_kl(mean, log_var, mean, log_var).numpy() == 0.0)


def reference_kl(mq, lvq, mp, lvp):
    """The same sum in float64 NumPy, term by term (expm1 keeps the small-d terms exact)."""
    mq, lvq, mp, lvp = (np.asarray(a, np.float64) for a in (mq, lvq, mp, lvp))
    d = lvq - lvp
    return 0.5 * np.sum(np.expm1(d) - d + (mq - mp) ** 2 * np.exp(-lvp), axis=-1)


@pytest.mark.parametrize("log_var", [-80.0, 80.0])
def test_float32_kl_is_finite_and_accurate_at_extreme_log_variances(log_var):
    mean = np.array([[0.5, -1.0]], np.float32)
    lv = np.full((1, 2), log_var, np.float32)
    zeros = np.zeros_like(mean)
    for got, want in [(objectives.standard_normal_kl(mean, lv), reference_kl(mean, lv, zeros, zeros)),
                      (objectives.gaussian_kl(zeros, zeros, mean, lv), reference_kl(zeros, zeros, mean, lv))]:
        assert np.all(np.isfinite(got.numpy()))
        # float32 carries ~7 digits; exp(80) and the sums lose at most a few ulps.
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5)


def test_float64_kl_is_finite_for_log_variances_in_the_hundreds():
    lv = np.array([[-300.0, 300.0]])
    got = objectives.standard_normal_kl(np.zeros((1, 2)), lv).numpy()
    np.testing.assert_allclose(got, reference_kl(np.zeros((1, 2)), lv, np.zeros((1, 2)), np.zeros((1, 2))), rtol=1e-12)


@pytest.mark.parametrize("delta", [1e-3, 1e-5])
def test_float32_kl_keeps_relative_precision_when_q_is_close_to_p(delta):
    # KL ~ d * delta^2 / 4: the naive exp(delta) - 1 - delta in float32 would cancel to 0
    # or to pure round-off (float32 eps ~ 1e-7 > delta^2).
    lv = np.full((1, 8), delta, np.float32)
    got = objectives.standard_normal_kl(np.zeros_like(lv), lv).numpy()
    want = reference_kl(np.zeros((1, 8)), np.full((1, 8), np.float64(np.float32(delta))), 0.0, 0.0)
    assert got[0] > 0
    # expm1(delta) - delta loses log10(1/delta) of float32's 7 digits at worst.
    np.testing.assert_allclose(got, want, rtol=1e-2 if delta < 1e-4 else 1e-3)


def test_kl_per_dimension_sums_to_the_total_kl_and_is_non_negative():
    mq, lvq, mp, lvp = random_gaussians(np.random.default_rng(5))
    q = tfd.MultivariateNormalDiag(mq, np.exp(0.5 * lvq))
    p = tfd.MultivariateNormalDiag(mp, np.exp(0.5 * lvp))
    per_dim = objectives.kl_per_dimension(q, p).numpy()
    assert per_dim.shape == mq.shape
    assert np.all(per_dim >= 0)
    # diagonal_log_variance goes through log(stddev): a few ulps of float64 per term.
    np.testing.assert_allclose(per_dim.sum(axis=-1), objectives.gaussian_kl(mq, lvq, mp, lvp), rtol=1e-10)


def test_kl_per_dimension_is_zero_exactly_where_q_equals_the_prior():
    mean = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    scale = np.array([[1.0, 1.0, 2.0], [1.0, 1.0, 1.0]])
    per_dim = objectives.kl_per_dimension(tfd.MultivariateNormalDiag(mean, scale),
                                          tfd.MultivariateNormalDiag(tf.zeros(3, tf.float64))).numpy()
    np.testing.assert_array_equal(per_dim == 0, [[True, False, False], [True, True, True]])


def free_bits_case():
    rng = np.random.default_rng(6)
    q = tfd.MultivariateNormalDiag(rng.normal(size=(8, 4)), np.exp(rng.normal(size=(8, 4))))
    return q, tfd.MultivariateNormalDiag(tf.zeros(4, tf.float64))


def test_free_bits_kl_is_the_batch_kl_when_every_dimension_is_above_the_threshold():
    q, prior = free_bits_case()
    per_dim_mean = objectives.kl_per_dimension(q, prior).numpy().mean(axis=0)
    got = objectives.free_bits_kl(q, prior, free_bits=0.5 * per_dim_mean.min()).numpy()
    assert got.shape == (8,)
    np.testing.assert_allclose(got, per_dim_mean.sum(), rtol=1e-12)


def test_free_bits_kl_counts_each_dimension_as_at_least_the_threshold():
    q, prior = free_bits_case()
    per_dim_mean = objectives.kl_per_dimension(q, prior).numpy().mean(axis=0)
    threshold = float(np.median(per_dim_mean))
    got = objectives.free_bits_kl(q, prior, free_bits=threshold).numpy()
    np.testing.assert_allclose(got, np.maximum(per_dim_mean, threshold).sum(), rtol=1e-12)
    assert np.all(got >= per_dim_mean.sum()) and np.all(got >= 4 * threshold)
    huge = objectives.free_bits_kl(q, prior, free_bits=1e3).numpy()
    np.testing.assert_allclose(huge, 4e3, rtol=1e-12)


def test_free_bits_kl_has_no_gradient_for_dimensions_below_the_threshold():
    # This is the point of free bits: a dimension under the threshold is not pushed towards the prior.
    mean = tf.Variable([[0.1, 3.0], [-0.1, 3.0]], dtype=tf.float64)
    with tf.GradientTape() as tape:
        q = tfd.MultivariateNormalDiag(mean, tf.ones_like(mean))
        loss = tf.reduce_sum(objectives.free_bits_kl(q, tfd.MultivariateNormalDiag(tf.zeros(2, tf.float64)), 1.0))
    grad = tape.gradient(loss, mean).numpy()
    assert np.all(grad[:, 0] == 0) and np.all(grad[:, 1] != 0)


# --- the ELBO -------------------------------------------------------------------

@pytest.mark.parametrize("analytic_kl", [True, False])
def test_monte_carlo_elbo_agrees_with_the_exact_elbo(ppca, data, analytic_kl):
    encode = shifted_diagonal_q(ppca)
    q = encode(data)
    exact = ppca.exact_elbo(data, q.mean(), tf.linalg.diag(q.variance())).numpy()
    estimates = np.stack([objectives.elbo(data, encode, ppca.decode, ppca.prior, n_samples=200,
                                          analytic_kl=analytic_kl, seed=seed(r, 7)).elbo.numpy()
                          for r in range(10)])
    standard_error = estimates.std(axis=0, ddof=1) / math.sqrt(len(estimates))
    # 5 standard errors of a 10-repeat mean (t with 9 dof: P(|t| > 5) ~ 7e-4 per example);
    # the floor covers examples whose reconstruction term happens to have tiny variance.
    np.testing.assert_array_less(np.abs(estimates.mean(axis=0) - exact), 5 * standard_error + 1e-9)


@pytest.mark.parametrize("analytic_kl", [True, False])
def test_elbo_with_the_exact_posterior_equals_the_log_evidence(ppca, data, analytic_kl):
    # With q = p(z|x), log p(x|z) + log p(z) - log q(z|x) = log p(x) for every z: no Monte Carlo noise.
    # (The full-covariance posterior must not be handed to the diagonal closed-form KL.)
    got = objectives.elbo(data, ppca.posterior, ppca.decode, ppca.prior, n_samples=3,
                          analytic_kl=analytic_kl, seed=seed(1, 1))
    # float64 sums of ~10 terms of size ~10: round-off ~1e-13.
    np.testing.assert_allclose(got.elbo.numpy(), ppca.log_evidence(data).numpy(), rtol=0, atol=1e-9)


def test_elbo_terms_are_reconstruction_minus_kl(ppca, data):
    terms = objectives.elbo(data, shifted_diagonal_q(ppca), ppca.decode, ppca.prior, n_samples=4, seed=seed(3, 3))
    assert terms.elbo.shape == (len(data),)
    np.testing.assert_allclose(terms.elbo, terms.reconstruction - terms.kl, rtol=1e-14)
    assert np.all(terms.kl.numpy() > 0)


def test_elbo_is_the_same_for_the_same_seed(ppca, data):
    encode = shifted_diagonal_q(ppca)
    a = objectives.elbo(data, encode, ppca.decode, ppca.prior, seed=seed(4, 4)).elbo.numpy()
    b = objectives.elbo(data, encode, ppca.decode, ppca.prior, seed=seed(4, 4)).elbo.numpy()
    c = objectives.elbo(data, encode, ppca.decode, ppca.prior, seed=seed(4, 5)).elbo.numpy()
    np.testing.assert_array_equal(a, b)
    assert np.all(a != c)


# --- the importance-weighted bound ------------------------------------------------

def test_importance_weighted_bound_with_the_exact_posterior_is_the_log_evidence_for_any_k_and_chunks(ppca, data):
    # Every importance weight equals p(x), so L_k = log p(x) exactly; this checks the chunked
    # log-sum-exp and the log k normalization, uneven last chunk included (10 = 3 + 3 + 3 + 1).
    log_evidence = ppca.log_evidence(data).numpy()
    for k, chunk_size in [(1, None), (10, None), (10, 3), (10, 10), (64, 7)]:
        got = objectives.importance_weighted_bound(data, ppca.posterior, ppca.decode, ppca.prior, k=k,
                                                   chunk_size=chunk_size, seed=seed(k, 0)).numpy()
        np.testing.assert_allclose(got, log_evidence, rtol=0, atol=1e-9, err_msg=f"k={k}, chunk_size={chunk_size}")


def _bound_of_x(encode, decode, prior, k, chunk_size, chunk_seed):
    def bound(x):
        return objectives.importance_weighted_bound(x, encode, decode, prior, k=k, chunk_size=chunk_size,
                                                    seed=chunk_seed)
    return bound


def test_in_a_tf_function_the_chunks_run_as_one_graph_loop_and_stay_exact(ppca, data):
    # AutoGraph turns the chunk loop into a while loop (so k = 5000 holds one chunk's samples at
    # a time, not all of them); with the exact posterior it must still give log p(x), seeded or not.
    log_evidence = ppca.log_evidence(data).numpy()
    x = tf.constant(data)
    posterior = ppca.posterior(data)  # computed eagerly: LinearGaussian checks its input with NumPy
    for k, chunk_size, chunk_seed in [(10, 3, seed(1, 0)), (64, 7, None), (12, 4, None)]:
        concrete = tf.function(_bound_of_x(lambda _: posterior, ppca.decode, ppca.prior, k, chunk_size, chunk_seed))
        concrete = concrete.get_concrete_function(tf.TensorSpec(x.shape, x.dtype))
        op_types = {op.type for op in concrete.graph.get_operations()}
        assert op_types & {"While", "StatelessWhile"}, (k, chunk_size)
        np.testing.assert_allclose(concrete(x).numpy(), log_evidence, rtol=0, atol=1e-9,
                                   err_msg=f"k={k}, chunk_size={chunk_size}")


def test_importance_weighted_bound_converges_to_the_log_evidence(ppca, data):
    encode = shifted_diagonal_q(ppca)
    log_evidence = ppca.log_evidence(data).numpy()
    errors = []
    for k in (1, 10, 100, 1000, 10000):
        bound = objectives.importance_weighted_bound(data, encode, ppca.decode, ppca.prior, k=k, chunk_size=1000,
                                                     seed=seed(k, 1)).numpy()
        errors.append(np.abs(bound - log_evidence).mean())
    # The error falls like 1/sqrt(k) once k is large (~3x per factor of 10); demand strict decrease
    # and a final error well below the k = 1 gap (several nats for this deliberately poor q).
    assert all(later < earlier for earlier, later in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.05, errors


def test_importance_weighted_bound_does_not_decrease_with_k(ppca, data):
    encode = shifted_diagonal_q(ppca)
    ks = (1, 2, 4, 8, 16, 32)
    # 20 copies of every point: each copy gets its own independent draws, in one call per k.
    repeated = np.tile(data, (20, 1))
    bounds = np.stack([objectives.importance_weighted_bound(repeated, encode, ppca.decode, ppca.prior, k=k,
                                                            seed=seed(k, 2)).numpy() for k in ks])
    means = bounds.mean(axis=1)
    for i in range(len(ks) - 1):
        step = bounds[i + 1] - bounds[i]
        standard_error = step.std(ddof=1) / math.sqrt(step.size)
        # E[L_2k] >= E[L_k] (Burda et al., 2016, Theorem 1); an estimate may dip by noise only:
        # 3 standard errors of the mean difference over 20 copies x 40 points.
        assert means[i + 1] >= means[i] - 3 * standard_error, (ks[i], means)
    assert means[-1] > means[0] + 1.0  # and it does rise: this q's k = 1 gap is several nats


def test_chunked_and_unchunked_bounds_agree_within_monte_carlo_error(ppca, data):
    encode = shifted_diagonal_q(ppca)
    repeated = np.tile(data, (8, 1))
    runs = {chunk: objectives.importance_weighted_bound(repeated, encode, ppca.decode, ppca.prior, k=200,
                                                        chunk_size=chunk, seed=seed(9, 9)).numpy()
            for chunk in (None, 30)}
    difference = runs[None] - runs[30]
    # Chunks draw their samples from split seeds, so the two are different draws of one
    # estimator: their mean difference is 0 within 4 standard errors.
    assert abs(difference.mean()) < 4 * difference.std(ddof=1) / math.sqrt(difference.size)


def test_importance_weighted_bound_is_the_same_for_the_same_seed(ppca, data):
    encode = shifted_diagonal_q(ppca)
    a, b, c = (objectives.importance_weighted_bound(data, encode, ppca.decode, ppca.prior, k=50, chunk_size=20,
                                                    seed=s).numpy() for s in (seed(5, 5), seed(5, 5), seed(5, 6)))
    np.testing.assert_array_equal(a, b)
    assert np.all(a != c)


@pytest.mark.parametrize("decode_samples", [7, 10])  # with and without a smaller last piece
def test_decoding_in_pieces_scores_the_same_samples(ppca, data, decode_samples):
    # The samples are all drawn before they are decoded piece by piece, so the weights, and
    # the bound, are those of decoding the chunk at once.
    encode = shifted_diagonal_q(ppca)
    whole, pieces = (objectives.importance_weighted_bound(data, encode, ppca.decode, ppca.prior, k=50, chunk_size=20,
                                                          seed=seed(5, 5), decode_samples=n).numpy()
                     for n in (None, decode_samples))
    np.testing.assert_allclose(pieces, whole, rtol=1e-6)


@pytest.mark.parametrize("pixels", ["binary", "gray"])
@pytest.mark.parametrize("event_shape", [(28, 28), (784,), (4, 5, 6)])
def test_the_fused_bernoulli_log_likelihood_is_tfps_log_prob(pixels, event_shape):
    # The fused version sums over the pixels flattened into one axis; any event rank must give TFP's value.
    rng = np.random.default_rng(0)
    logits = tf.constant(rng.normal(0.0, 8.0, (7, 3) + event_shape), tf.float32)  # (samples, images, pixels)
    x = rng.random((3,) + event_shape)
    x = tf.constant((x < 0.3) if pixels == "binary" else x, tf.float32)
    p_x = tfd.Independent(tfd.Bernoulli(logits=logits, dtype=tf.float32), reinterpreted_batch_ndims=len(event_shape))
    fused = objectives.fused_log_likelihood(p_x, x)
    assert fused.shape == (7, 3)
    np.testing.assert_allclose(fused, p_x.log_prob(x), rtol=1e-5)


def test_the_fused_bernoulli_log_likelihood_is_exact_for_extreme_logits():
    # Logits far into both tails, where a naive log(sigmoid(l)) overflows or rounds to log 0.
    logits = np.array([[-1e4, -100.0, -20.0, -1e-3, 0.0, 1e-3, 20.0, 100.0, 1e4]] * 2, np.float32)
    x = np.array([[0, 1, 0, 1, 0, 1, 0, 1, 1], [1, 0, 1, 0, 1, 0, 1, 0, 0]], np.float32)
    l64 = logits.astype(np.float64)
    exact = np.sum(x * l64 - np.logaddexp(0.0, l64), axis=1)  # log p(x|l) in float64
    p_x = tfd.Independent(tfd.Bernoulli(logits=tf.constant(logits), dtype=tf.float32), reinterpreted_batch_ndims=1)
    fused = objectives.fused_log_likelihood(p_x, tf.constant(x)).numpy()
    assert np.all(np.isfinite(fused))
    np.testing.assert_allclose(fused, exact, rtol=1e-6)


def test_the_fused_log_likelihood_leaves_other_distributions_to_their_log_prob():
    p_x = tfd.Independent(tfd.Normal(tf.zeros((2, 5)), 2.0), reinterpreted_batch_ndims=1)
    x = tf.ones((2, 5))
    np.testing.assert_array_equal(objectives.fused_log_likelihood(p_x, x), p_x.log_prob(x))


def test_the_marginal_log_likelihood_scores_bernoulli_pixels_exactly():
    # A decoder that ignores z, and q(z|x) = p(z): every importance weight is p(x), so the
    # estimate is log p(x) = sum_j [x_j l_j - softplus(l_j)] exactly, with no Monte Carlo error.
    rng = np.random.default_rng(0)
    logits = rng.normal(0.0, 3.0, (8, 8)).astype(np.float32)

    class ZIndependentModel:
        prior = tfd.MultivariateNormalDiag(tf.zeros(2))

        def encode(self, x):
            return tfd.MultivariateNormalDiag(tf.zeros(tf.concat([tf.shape(x)[:1], [2]], 0)))

        def decode(self, z):
            pixel_logits = tf.zeros(tf.concat([tf.shape(z)[:-1], [8, 8]], 0)) + logits
            return tfd.Independent(tfd.Bernoulli(logits=pixel_logits, dtype=tf.float32), reinterpreted_batch_ndims=2)

    x = (rng.random((5, 8, 8)) < 0.4).astype(np.float32)
    exact = np.sum(x * logits - np.logaddexp(0.0, logits), axis=(1, 2))
    np.testing.assert_allclose(objectives.marginal_log_likelihood(ZIndependentModel(), x, k=300, chunk_size=128,
                                                               batch_size=2),
                               exact, rtol=1e-5)


def test_importance_weighted_bound_gradients_flow_through_the_chunks(ppca, data):
    shift = tf.Variable(0.3, dtype=tf.float64)
    with tf.GradientTape() as tape:
        bound = objectives.importance_weighted_bound(data, shifted_diagonal_q(ppca, shift=shift), ppca.decode,
                                                     ppca.prior, k=20, chunk_size=6, seed=seed(6, 6))
        loss = -tf.reduce_mean(bound)
    grad = tape.gradient(loss, shift)
    assert grad is not None and np.isfinite(grad.numpy()) and grad.numpy() != 0


# --- wake-sleep ---------------------------------------------------------------------

def test_wake_sleep_gradients_reach_the_decoder_from_the_wake_phase_and_the_encoder_from_the_sleep_phase(ppca, data):
    # theta scales the decoder's input, phi shifts the encoder's mean. ppca's Gaussian decoder
    # samples its dreams by reparameterization, so without the stop-gradients the sleep phase
    # would also push theta (and the wake phase phi).
    theta = tf.Variable(1.0, dtype=tf.float64)
    phi = tf.Variable(0.3, dtype=tf.float64)
    encode = shifted_diagonal_q(ppca, shift=phi)
    with tf.GradientTape(persistent=True) as tape:
        phases = objectives.wake_sleep(data, encode, lambda z: ppca.decode(theta * z), ppca.prior, seed=seed(8, 1))
        wake, sleep = -tf.reduce_mean(phases.wake), -tf.reduce_mean(phases.sleep)
    assert phases.wake.shape == phases.sleep.shape == (len(data),)
    assert tape.gradient(wake, phi) is None and tape.gradient(sleep, theta) is None
    assert tape.gradient(wake, theta).numpy() != 0 and tape.gradient(sleep, phi).numpy() != 0


def test_the_sleep_phase_never_looks_at_the_data(ppca, data):
    encode = shifted_diagonal_q(ppca)
    a = objectives.wake_sleep(data, encode, ppca.decode, ppca.prior, seed=seed(8, 2))
    b = objectives.wake_sleep(data + 1.0, encode, ppca.decode, ppca.prior, seed=seed(8, 2))
    np.testing.assert_array_equal(a.sleep.numpy(), b.sleep.numpy())
    assert np.all(a.wake.numpy() != b.wake.numpy())


def test_the_sleep_phase_prefers_the_exact_posterior_to_a_wrong_encoder(ppca):
    # E_{p(z, x)} log q(z|x) = -E_{p(x)} [KL(p(z|x) || q(z|x)) + H(p(z|x))]: largest when q is the
    # model's own posterior, which is what the sleep phase fits q to.
    dreams = tf.zeros((4000, ppca.data_dim), tf.float64)  # only the batch size matters to the sleep phase
    exact, wrong = (objectives.wake_sleep(dreams, encode, ppca.decode, ppca.prior, seed=seed(8, 3)).sleep.numpy()
                    for encode in (ppca.posterior, shifted_diagonal_q(ppca)))
    difference = exact - wrong  # the same dreams for both encoders
    assert difference.mean() > 5 * difference.std(ddof=1) / math.sqrt(difference.size), difference.mean()


def test_the_wake_phase_reports_the_elbo_of_its_own_sample(ppca, data):
    # The reported ELBO reuses the wake phase's z and log p(x|z): with the same seed it is
    # objectives.elbo's single-sample estimate at that z, whose closed-form KL does not depend on z.
    encode = shifted_diagonal_q(ppca)
    phases = objectives.wake_sleep(data, encode, ppca.decode, ppca.prior, seed=seed(8, 4))
    z = encode(data).sample(seed=tfp.random.split_seed(seed(8, 4), n=3)[0])
    np.testing.assert_allclose(phases.elbo.reconstruction.numpy(), ppca.decode(z).log_prob(data).numpy(), rtol=1e-12)
    np.testing.assert_allclose(phases.wake.numpy(), (phases.elbo.reconstruction + ppca.prior.log_prob(z)).numpy(),
                               rtol=1e-12)
    reference = objectives.elbo(data, encode, ppca.decode, ppca.prior, seed=seed(8, 5))
    np.testing.assert_allclose(phases.elbo.kl.numpy(), reference.kl.numpy(), rtol=1e-12)
    np.testing.assert_allclose(phases.elbo.elbo.numpy(), (phases.elbo.reconstruction - phases.elbo.kl).numpy())
