"""A sequential prior for time series: the variational RNN, and a linear-Gaussian one to check it.

* `VRNN` (kind "vrnn"): the variational recurrent neural network of Chung et al. (2015),
  small, for real-valued sequences x_1..T. A recurrent state h_t summarizes the past; the
  prior of the step's latent z_t depends on it, so the prior is a learned process rather
  than N(0, I):

      p(z_t | x_<t, z_<t) = N(mu_0(h_{t-1}), diag sigma_0^2(h_{t-1}))
      q(z_t | x_<=t, z_<t) = N(mu_z(x_t, h_{t-1}), diag sigma_z^2(x_t, h_{t-1}))
      p(x_t | z_<=t, x_<t) = N(mu_x(z_t, h_{t-1}), diag sigma_x^2(z_t, h_{t-1}))
      h_t = GRU(h_{t-1}, [x_t, z_t])

  and its ELBO is a sum over time of per-step ELBOs ({eq}`eq-vrnn-elbo`).
  `sequential_prior=False` replaces p(z_t | ...) by N(0, I) with everything else the same,
  the comparison that isolates what the learned prior adds. `vrnn_config` describes one;
  `tfvae.training.fit` trains it on a `tfvae.data.SequenceDataset` like any other model,
  with the KL weight (`beta`, `training.KLWarmup`) and free bits of the image models.
* `GaussianRNN` (kind "gaussian_rnn"): the deterministic RNN a VRNN is compared with, the
  same decoder and recurrent state without z_t; its log-likelihood is exact.
* `LinearGaussianVRNN`: a VRNN whose parts are all linear-Gaussian, a state-space model
  whose exact likelihood (a Kalman filter's) checks the VRNN's ELBO.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import checks, objectives
from tfvae.errors import InvalidInputError
from tfvae.models.base import ModelConfig, TrainableModel, register

tfd = tfp.distributions


def _mlp(n_out: int, hidden_units: int, seed: int, name: str):
    """A one-hidden-layer tanh network; named layers give the optimizer's variables the
    stable names that checkpoints match on."""
    init = keras.initializers.GlorotUniform(seed=seed + len(name))
    return keras.Sequential([keras.layers.Dense(hidden_units, activation="tanh", kernel_initializer=init,
                                                name=f"{name}_hidden"),
                             keras.layers.Dense(n_out, kernel_initializer=init, name=f"{name}_output")], name=name)


def _recurrent_state(state_dim: int, seed: int):
    """The GRU cell that carries h_t."""
    return keras.layers.GRUCell(state_dim, kernel_initializer=keras.initializers.GlorotUniform(seed),
                                recurrent_initializer=keras.initializers.Orthogonal(seed=seed), name="state")


def _mean_and_scale(outputs):
    """A network's 2k outputs as a Gaussian's mean and standard deviation (softplus, floored at 1e-3)."""
    mean, raw_scale = tf.split(outputs, 2, axis=-1)
    return mean, tf.nn.softplus(raw_scale) + 1e-3


def _check_sequence_config(config, family: str, settings: set) -> int:
    """Refuse settings a sequence model cannot honour; return its `state_dim`."""
    unknown = set(config.extra) - settings
    if unknown:
        raise InvalidInputError(f"unknown {family} settings: {', '.join(sorted(unknown))}")
    if config.likelihood != "gaussian" or config.n_samples != 1:
        raise InvalidInputError(f"a {family} has a Gaussian decoder with learned variance and draws one path of "
                                f"codes: it needs likelihood 'gaussian' and n_samples 1, got "
                                f"{config.likelihood!r} and {config.n_samples}")
    return checks.positive_int(config.extra.get("state_dim", 32), "state_dim")


def vrnn_config(steps: int, x_dim: int = 1, *, latent_dim: int = 2, state_dim: int = 32, hidden_units: int = 32,
                sequential_prior: bool = True, **settings) -> ModelConfig:
    """The config of a VRNN for sequences of shape (steps, x_dim); build it with `tfvae.models.build`.

    Args:
      steps, x_dim: the shape of one training sequence (the model itself runs on any length).
      latent_dim: size of z_t.
      state_dim: size of the GRU state h_t.
      hidden_units: width of the one-hidden-layer networks for prior, posterior and decoder.
      sequential_prior: learn p(z_t | h_{t-1}); if False, use N(0, I) at every step.
      settings: further `ModelConfig` fields (`seed`, `beta`, `free_bits`).
    """
    return ModelConfig(kind="vrnn", image_shape=(checks.positive_int(steps, "steps"), checks.positive_int(x_dim, "x_dim")),
                       latent_dim=latent_dim, hidden_units=hidden_units, likelihood="gaussian",
                       extra={"state_dim": checks.positive_int(state_dim, "state_dim"),
                              "sequential_prior": bool(sequential_prior)}, **settings)


@register("vrnn")
class VRNN(TrainableModel):
    """A small variational RNN (Chung et al., 2015) for sequences of shape (batch, T, x_dim).

    Built from a config (`vrnn_config`): `image_shape` is (steps, x_dim) of a training
    sequence, and `extra` holds `state_dim` and `sequential_prior`. The decoder is a
    Gaussian with a learned variance, so `likelihood` must be "gaussian".
    """

    metric_names = ("loss", "elbo", "reconstruction", "kl")
    supported_objectives = ("elbo",)

    def create_networks(self):
        config = self.config
        self.state_dim = _check_sequence_config(config, "VRNN", {"state_dim", "sequential_prior"})
        self.x_dim = config.image_shape[1]
        self.sequential_prior = bool(config.extra.get("sequential_prior", True))
        self.prior_net = _mlp(2 * self.latent_dim, config.hidden_units, config.seed, "prior")
        self.posterior_net = _mlp(2 * self.latent_dim, config.hidden_units, config.seed, "posterior")
        self.decoder_net = _mlp(2 * self.x_dim, config.hidden_units, config.seed, "decoder")
        self.cell = _recurrent_state(self.state_dim, config.seed)

    def create_state(self):
        self.kl_weight = keras.Variable(float(self.config.beta), dtype="float32", trainable=False, name="kl_weight")

    def call(self, x, training=False):
        return self.elbo(x, seed=tf.constant([0, 0])).elbo

    # Each conditional is a diagonal Gaussian; the *_parameters methods give its mean and
    # standard deviation as tensors, which the ELBO's loop uses directly (XLA compiles the
    # loop's gradient only without the distribution objects' dynamic broadcasts).
    def prior_parameters(self, h):
        """Mean and standard deviation of p(z_t | h_{t-1}), each (n, latent_dim)."""
        if not self.sequential_prior:
            zeros = tf.zeros([tf.shape(h)[0], self.latent_dim])
            return zeros, tf.ones_like(zeros)
        return _mean_and_scale(self.prior_net(h))

    def posterior_parameters(self, x_t, h):
        """Mean and standard deviation of q(z_t | x_t, h_{t-1}), each (n, latent_dim)."""
        return _mean_and_scale(self.posterior_net(tf.concat([x_t, h], axis=-1)))

    def decoder_parameters(self, z_t, h):
        """Mean and standard deviation of p(x_t | z_t, h_{t-1}), each (n, x_dim)."""
        return _mean_and_scale(self.decoder_net(tf.concat([z_t, h], axis=-1)))

    def step_prior(self, h):
        """p(z_t | h_{t-1}): batch (n,), event (latent_dim,)."""
        return tfd.MultivariateNormalDiag(*self.prior_parameters(h))

    def step_posterior(self, x_t, h):
        """q(z_t | x_t, h_{t-1}): batch (n,), event (latent_dim,)."""
        return tfd.MultivariateNormalDiag(*self.posterior_parameters(x_t, h))

    def step_decoder(self, z_t, h):
        """p(x_t | z_t, h_{t-1}): batch (n,), event (x_dim,)."""
        return tfd.MultivariateNormalDiag(*self.decoder_parameters(z_t, h))

    def step_terms(self, x, seed=None):
        """Each step's reconstruction term and KL per latent unit, along one sampled path of codes.

        The per-step KL between the two diagonal Gaussians is in closed form ({eq}`eq-kl-diag`);
        z_t is one reparameterized sample. A `seed` of None draws a fresh one. Shapes:
        x (n, T, x_dim) -> reconstruction (T, n), kl (T, n, latent_dim).
        """
        x = tf.convert_to_tensor(x, tf.float32)
        n, steps = tf.shape(x)[0], tf.shape(x)[1]
        seed = self.next_seed() if seed is None else seed
        noise = tf.random.stateless_normal([steps, n, self.latent_dim], seed=tf.cast(seed, tf.int32))

        def step(carry, inputs):
            h, _, _ = carry
            x_t, noise_t = inputs
            prior_mean, prior_scale = self.prior_parameters(h)
            mean, scale = self.posterior_parameters(x_t, h)
            z_t = mean + scale * noise_t
            reconstruction = tf.reduce_sum(tfd.Normal(*self.decoder_parameters(z_t, h)).log_prob(x_t), axis=-1)
            kl = objectives.gaussian_kl_terms(mean, 2.0 * tf.math.log(scale),
                                              prior_mean, 2.0 * tf.math.log(prior_scale))
            h, _ = self.cell(tf.concat([x_t, z_t], axis=-1), [h])
            return h, reconstruction, kl

        # tf.scan traces the step once and loops in the graph; a Python loop over T steps
        # would trace T copies, which takes minutes for T = 40.
        start = (tf.zeros([n, self.state_dim]), tf.zeros([n]), tf.zeros([n, self.latent_dim]))
        _, reconstruction, kl = tf.scan(step, (tf.transpose(x, [1, 0, 2]), noise), start)
        return reconstruction, kl

    def elbo(self, x, seed=None) -> objectives.ElboTerms:
        """The VRNN's ELBO, {eq}`eq-vrnn-elbo`: sum_t E_q[log p(x_t | z_t, h_{t-1})] - KL(q_t || p_t).

        Shapes: x (n, T, x_dim) -> fields (n,), summed over time.
        """
        reconstruction, kl = self.step_terms(x, seed)
        reconstruction, kl = tf.reduce_sum(reconstruction, axis=0), tf.reduce_sum(kl, axis=[0, 2])
        return objectives.ElboTerms(reconstruction - kl, reconstruction, kl)

    def loss_terms(self, x, seed=None) -> dict:
        """The KL-weighted ELBO ({eq}`eq-beta-vae`), with free bits ({eq}`eq-free-bits`) when set.

        Free bits apply to each step's latent unit: its KL, averaged over the batch, counts as
        at least `free_bits` nats. The reported ELBO is the plain one.
        """
        reconstruction, kl = self.step_terms(x, seed)
        reconstruction = tf.reduce_sum(reconstruction, axis=0)
        exact_kl = tf.reduce_sum(kl, axis=[0, 2])
        trained_kl = exact_kl
        if self.config.free_bits > 0:
            clipped = tf.reduce_sum(tf.maximum(tf.reduce_mean(kl, axis=1), self.config.free_bits))
            trained_kl = tf.fill(tf.shape(exact_kl), clipped)
        loss = -tf.reduce_mean(reconstruction - self.kl_weight * trained_kl)
        return {"loss": loss, "elbo": reconstruction - exact_kl, "reconstruction": reconstruction, "kl": exact_kl}

    def generate(self, n: int, steps: int, seed: int = 0) -> np.ndarray:
        """Sample n sequences from the model: z_t ~ p(z_t | h_{t-1}), then x_t ~ p(x_t | z_t, h_{t-1}).

        Shapes: -> (n, steps, x_dim).
        """
        n, steps = checks.positive_int(n, "n"), checks.positive_int(steps, "steps")
        seeds = tfp.random.split_seed(tf.constant([seed, 1]), n=2 * steps)
        h = tf.zeros([n, self.state_dim])
        out = []
        for t in range(steps):
            z_t = self.step_prior(h).sample(seed=seeds[2 * t])
            x_t = self.step_decoder(z_t, h).sample(seed=seeds[2 * t + 1])
            out.append(x_t)
            h, _ = self.cell(tf.concat([x_t, z_t], axis=-1), [h])
        return tf.stack(out, axis=1).numpy()


def gaussian_rnn_config(steps: int, x_dim: int = 1, *, state_dim: int = 32, hidden_units: int = 32,
                        **settings) -> ModelConfig:
    """The config of a `GaussianRNN` for sequences of shape (steps, x_dim), the VRNN's sizes without z.

    `latent_dim` is 1 and unused: the model has no latent variable.
    """
    return ModelConfig(kind="gaussian_rnn", image_shape=(checks.positive_int(steps, "steps"),
                                                         checks.positive_int(x_dim, "x_dim")),
                       latent_dim=1, hidden_units=hidden_units, likelihood="gaussian",
                       extra={"state_dim": checks.positive_int(state_dim, "state_dim")}, **settings)


@register("gaussian_rnn")
class GaussianRNN(TrainableModel):
    """The deterministic RNN a VRNN is compared with: its decoder and recurrent state, without z_t.

        p(x_t | x_<t) = N(mu_x(h_{t-1}), diag sigma_x^2(h_{t-1})),   h_t = GRU(h_{t-1}, x_t)

    Each step's next value is one Gaussian given the past, the output distribution of the
    VRNN's decoder; only the VRNN's z_t can make it a mixture. The log-likelihood is exact,
    a sum of one-step Gaussian log densities, so a VRNN's ELBO above it is a gain its
    latent variables earn.
    """

    metric_names = ("loss", "log_likelihood")
    supported_objectives = ("elbo",)

    def create_networks(self):
        config = self.config
        self.state_dim = _check_sequence_config(config, "Gaussian RNN", {"state_dim"})
        self.x_dim = config.image_shape[1]
        self.decoder_net = _mlp(2 * self.x_dim, config.hidden_units, config.seed, "decoder")
        self.cell = _recurrent_state(self.state_dim, config.seed)

    def call(self, x, training=False):
        return self.log_likelihood(x)

    def log_likelihood(self, x):
        """log p(x_1..T) = sum_t log N(x_t; mu_x(h_{t-1}), diag sigma_x^2(h_{t-1})), exactly. Shapes: (n, T, x_dim) -> (n,)."""
        x = tf.convert_to_tensor(x, tf.float32)

        def step(carry, x_t):
            h, _ = carry
            log_p = tf.reduce_sum(tfd.Normal(*_mean_and_scale(self.decoder_net(h))).log_prob(x_t), axis=-1)
            h, _ = self.cell(x_t, [h])
            return h, log_p

        start = (tf.zeros([tf.shape(x)[0], self.state_dim]), tf.zeros([tf.shape(x)[0]]))
        _, log_p = tf.scan(step, tf.transpose(x, [1, 0, 2]), start)
        return tf.reduce_sum(log_p, axis=0)

    def loss_terms(self, x, seed=None) -> dict:
        log_likelihood = self.log_likelihood(x)
        return {"loss": -tf.reduce_mean(log_likelihood), "log_likelihood": log_likelihood}


class LinearGaussianVRNN(VRNN):
    """A VRNN every part of which is linear-Gaussian, so that its likelihood is exact.

    The recurrent state is the previous code, h_{t-1} = z_{t-1} (h_0 = 0), and

        p(z_t | h_{t-1})      = N(A h_{t-1}, diag q)
        p(x_t | z_t, h_{t-1}) = N(diag(c) z_t, diag r)
        q(z_t | x_t, h_{t-1}) = p(z_t | z_{t-1} = h_{t-1}, x_t), the exact one-step posterior,

    which is a linear-Gaussian state-space model: a Kalman filter gives its log p(x_1..T)
    (`exact_log_likelihood`). `VRNN.elbo` runs on it unchanged, so the two can be compared:
    at T = 1 the ELBO must equal log p(x_1), and for longer sequences stay below log p(x)
    by the KL from this q, which sees only x_t and the past, to the posterior given the
    whole sequence. The observation matrix is diagonal so that q is a diagonal Gaussian,
    the family `VRNN.elbo` takes.

    Args:
      transition: A, shape (d, d).
      transition_variance: q, shape (d,), > 0.
      observation_scale: c, shape (d,) (x_t has the same size as z_t).
      observation_variance: r, shape (d,), > 0.
    """

    def __init__(self, transition, transition_variance, observation_scale, observation_variance, **kwargs):
        a = np.asarray(transition, np.float32)
        if a.ndim != 2 or a.shape[0] != a.shape[1]:
            raise InvalidInputError(f"transition must be a square matrix, got shape {a.shape}")
        d = a.shape[0]
        vectors = {}
        for name, value, positive in [("transition_variance", transition_variance, True),
                                      ("observation_scale", observation_scale, False),
                                      ("observation_variance", observation_variance, True)]:
            v = np.asarray(value, np.float32)
            if v.shape != (d,) or not np.isfinite(v).all() or (positive and (v <= 0).any()):
                raise InvalidInputError(f"{name} must be {'positive ' if positive else ''}finite numbers of "
                                        f"shape ({d},), got {value!r}")
            vectors[name] = tf.constant(v)
        self.transition = tf.constant(a)
        self.transition_variance = vectors["transition_variance"]
        self.observation_scale = vectors["observation_scale"]
        self.observation_variance = vectors["observation_variance"]
        # Its config is a VRNN's, for one-step sequences; the networks that config builds go unused.
        super().__init__(vrnn_config(1, d, latent_dim=d, state_dim=d, hidden_units=1), **kwargs)
        # The "recurrent cell" only carries z_t forward: h_t = z_t.
        self.cell = lambda inputs, states: (inputs[..., self.x_dim:], [inputs[..., self.x_dim:]])

    def prior_parameters(self, h):
        loc = tf.linalg.matvec(self.transition, h)
        return loc, tf.sqrt(self.transition_variance) + 0.0 * loc

    def posterior_parameters(self, x_t, h):
        # Product of N(z; A h, q) and N(x; c z, r), per dimension: precision 1/q + c^2/r.
        precision = 1.0 / self.transition_variance + tf.square(self.observation_scale) / self.observation_variance
        loc = (tf.linalg.matvec(self.transition, h) / self.transition_variance
               + self.observation_scale * x_t / self.observation_variance) / precision
        return loc, tf.sqrt(1.0 / precision) + 0.0 * loc

    def decoder_parameters(self, z_t, h):
        loc = self.observation_scale * z_t
        return loc, tf.sqrt(self.observation_variance) + 0.0 * loc

    def state_space_model(self, steps: int):
        """The same model as a `tfd.LinearGaussianStateSpaceModel` over `steps` time steps."""
        noise = tfd.MultivariateNormalDiag(scale_diag=tf.sqrt(self.transition_variance))
        return tfd.LinearGaussianStateSpaceModel(
            num_timesteps=checks.positive_int(steps, "steps"),
            transition_matrix=tf.linalg.LinearOperatorFullMatrix(self.transition),
            transition_noise=noise,
            observation_matrix=tf.linalg.LinearOperatorDiag(self.observation_scale),
            observation_noise=tfd.MultivariateNormalDiag(scale_diag=tf.sqrt(self.observation_variance)),
            initial_state_prior=noise)  # z_1 ~ N(A h_0, diag q) with h_0 = 0

    def exact_log_likelihood(self, x):
        """log p(x_1..T) by the Kalman filter, in nats. Shapes: (n, T, d) -> (n,)."""
        x = tf.constant(_sequences(x, self.x_dim, "x"))
        return self.state_space_model(int(x.shape[1])).log_prob(x)


def _sequences(x, x_dim, name):
    x = np.asarray(x, np.float32)
    if x.ndim != 3 or x.shape[2] != x_dim:
        raise InvalidInputError(f"{name} sequences must have shape (n, T, {x_dim}), got {x.shape}")
    if not np.isfinite(x).all():
        raise InvalidInputError(f"{name} sequences contain NaN or infinite values")
    return x
