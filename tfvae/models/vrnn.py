"""A sequential prior for time series: the variational RNN, and a linear-Gaussian one to check it.

* `VRNN`: the variational recurrent neural network of Chung et al. (2015), small, for
  real-valued sequences x_1..T. A recurrent state h_t summarizes the past; the prior of the
  step's latent z_t depends on it, so the prior is a learned process rather than N(0, I):

      p(z_t | x_<t, z_<t) = N(mu_0(h_{t-1}), diag sigma_0^2(h_{t-1}))
      q(z_t | x_<=t, z_<t) = N(mu_z(x_t, h_{t-1}), diag sigma_z^2(x_t, h_{t-1}))
      p(x_t | z_<=t, x_<t) = N(mu_x(z_t, h_{t-1}), diag sigma_x^2(z_t, h_{t-1}))
      h_t = GRU(h_{t-1}, [x_t, z_t])

  and its ELBO is a sum over time of per-step ELBOs (eq. {eq}`eq-vrnn-elbo`).
  `sequential_prior=False` replaces p(z_t | ...) by N(0, I) with everything else the same,
  the comparison that isolates what the learned prior adds.
* `LinearGaussianVRNN`: a VRNN whose parts are all linear-Gaussian, a state-space model
  whose exact likelihood (a Kalman filter's) checks the VRNN's ELBO.
* `fit_sequences`: trains a VRNN on arrays of sequences (`tfvae.data.synthetic_sequences`
  makes some).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import checks, objectives
from tfvae.errors import InvalidInputError

tfd = tfp.distributions


class VRNN(keras.Model):
    """A small variational RNN (Chung et al., 2015) for sequences of shape (batch, T, x_dim).

    Args:
      x_dim: size of one observation x_t.
      latent_dim: size of z_t.
      state_dim: size of the GRU state h_t.
      hidden_units: width of the one-hidden-layer networks for prior, posterior and decoder.
      sequential_prior: learn p(z_t | h_{t-1}); if False, use N(0, I) at every step.
      seed: seeds the initial weights.
    """

    def __init__(self, x_dim: int = 1, latent_dim: int = 2, state_dim: int = 32, hidden_units: int = 32,
                 sequential_prior: bool = True, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.x_dim = checks.positive_int(x_dim, "x_dim")
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.state_dim = checks.positive_int(state_dim, "state_dim")
        hidden_units = checks.positive_int(hidden_units, "hidden_units")
        self.sequential_prior = bool(sequential_prior)

        def net(n_out, name):
            init = keras.initializers.GlorotUniform(seed=seed + len(name))
            return keras.Sequential([keras.layers.Dense(hidden_units, activation="tanh", kernel_initializer=init),
                                     keras.layers.Dense(n_out, kernel_initializer=init)], name=name)

        self.prior_net = net(2 * self.latent_dim, "prior")
        self.posterior_net = net(2 * self.latent_dim, "posterior")
        self.decoder_net = net(2 * self.x_dim, "decoder")
        self.cell = keras.layers.GRUCell(self.state_dim, kernel_initializer=keras.initializers.GlorotUniform(seed),
                                         recurrent_initializer=keras.initializers.Orthogonal(seed=seed))
        self.trackers = {name: keras.metrics.Mean(name=name) for name in ("loss", "elbo", "reconstruction", "kl")}
        self.step_seed = keras.Variable(0, dtype="int64", trainable=False, name="step_seed")
        self.seed = int(seed)
        self.elbo(tf.zeros((1, 2, self.x_dim)), seed=tf.constant([0, 0]))  # create all weights now

    @property
    def metrics(self):
        return list(self.trackers.values())

    @staticmethod
    def _gaussian(parameters):
        mean, raw_scale = tf.split(parameters, 2, axis=-1)
        return tfd.MultivariateNormalDiag(loc=mean, scale_diag=tf.nn.softplus(raw_scale) + 1e-3)

    def step_prior(self, h):
        """p(z_t | h_{t-1}): batch (n,), event (latent_dim,)."""
        if not self.sequential_prior:
            zeros = tf.zeros([tf.shape(h)[0], self.latent_dim])
            return tfd.MultivariateNormalDiag(loc=zeros, scale_diag=tf.ones_like(zeros))
        return self._gaussian(self.prior_net(h))

    def step_posterior(self, x_t, h):
        """q(z_t | x_t, h_{t-1}): batch (n,), event (latent_dim,)."""
        return self._gaussian(self.posterior_net(tf.concat([x_t, h], axis=-1)))

    def step_decoder(self, z_t, h):
        """p(x_t | z_t, h_{t-1}): batch (n,), event (x_dim,)."""
        return self._gaussian(self.decoder_net(tf.concat([z_t, h], axis=-1)))

    def elbo(self, x, seed=None) -> objectives.ElboTerms:
        """The VRNN's ELBO, eq. {eq}`eq-vrnn-elbo`: sum_t E_q[log p(x_t | z_t, h_{t-1})] - KL(q_t || p_t).

        The per-step KL between the two diagonal Gaussians is in closed form (eq. {eq}`eq-kl-diag`);
        z_t is one reparameterized sample. Shapes: x (n, T, x_dim) -> fields (n,), summed over time.
        """
        x = tf.convert_to_tensor(x, tf.float32)
        n, steps = tf.shape(x)[0], tf.shape(x)[1]
        if seed is None:
            seed = tf.stack([tf.constant(self.seed, tf.int64), self.step_seed.assign_add(1)])
        noise = tf.random.stateless_normal([steps, n, self.latent_dim], seed=tf.cast(seed, tf.int32))

        def step(carry, inputs):
            h, reconstruction, kl = carry
            x_t, noise_t = inputs
            prior, posterior = self.step_prior(h), self.step_posterior(x_t, h)
            z_t = posterior.mean() + posterior.stddev() * noise_t
            reconstruction += self.step_decoder(z_t, h).log_prob(x_t)
            kl += objectives.gaussian_kl(posterior.mean(), 2.0 * tf.math.log(posterior.stddev()),
                                         prior.mean(), 2.0 * tf.math.log(prior.stddev()))
            h, _ = self.cell(tf.concat([x_t, z_t], axis=-1), [h])
            return h, reconstruction, kl

        # tf.scan traces the step once and loops in the graph; a Python loop over T steps
        # would trace T copies, which takes minutes for T = 40.
        start = (tf.zeros([n, self.state_dim]), tf.zeros([n]), tf.zeros([n]))
        _, reconstruction, kl = tf.scan(step, (tf.transpose(x, [1, 0, 2]), noise), start)
        reconstruction, kl = reconstruction[-1], kl[-1]
        return objectives.ElboTerms(reconstruction - kl, reconstruction, kl)

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

    def train_step(self, x):
        with tf.GradientTape() as tape:
            terms = self.elbo(x)
            loss = -tf.reduce_mean(terms.elbo)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return self._track(loss, terms)

    def test_step(self, x):
        terms = self.elbo(x)
        return self._track(-tf.reduce_mean(terms.elbo), terms)

    def _track(self, loss, terms):
        values = {"loss": loss, "elbo": terms.elbo, "reconstruction": terms.reconstruction, "kl": terms.kl}
        for name, tracker in self.trackers.items():
            tracker.update_state(values[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}


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
        super().__init__(x_dim=d, latent_dim=d, state_dim=d, **kwargs)
        # The "recurrent cell" only carries z_t forward: h_t = z_t.
        self.cell = lambda inputs, states: (inputs[..., self.x_dim:], [inputs[..., self.x_dim:]])

    def step_prior(self, h):
        loc = tf.linalg.matvec(self.transition, h)
        return tfd.MultivariateNormalDiag(loc=loc, scale_diag=tf.sqrt(self.transition_variance) + 0.0 * loc)

    def step_posterior(self, x_t, h):
        # Product of N(z; A h, q) and N(x; c z, r), per dimension: precision 1/q + c^2/r.
        precision = 1.0 / self.transition_variance + tf.square(self.observation_scale) / self.observation_variance
        loc = (tf.linalg.matvec(self.transition, h) / self.transition_variance
               + self.observation_scale * x_t / self.observation_variance) / precision
        return tfd.MultivariateNormalDiag(loc=loc, scale_diag=tf.sqrt(1.0 / precision) + 0.0 * loc)

    def step_decoder(self, z_t, h):
        loc = self.observation_scale * z_t
        return tfd.MultivariateNormalDiag(loc=loc, scale_diag=tf.sqrt(self.observation_variance) + 0.0 * loc)

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


def fit_sequences(model: VRNN, train, *, epochs: int, batch_size: int = 64, learning_rate: float = 3e-3,
                  validation_data=None, seed: int = 0) -> dict:
    """Train a `VRNN` with Adam on arrays of sequences (n, T, x_dim); returns the per-epoch history.

    `tfvae.training.fit` is built around image datasets (splits, binarization, checkpoints);
    sequences need none of that, so this is Keras' own loop with a fixed shuffle seed.
    """
    epochs = checks.positive_int(epochs, "epochs")
    train = _sequences(train, model.x_dim, "train")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), jit_compile=False)
    data = tf.data.Dataset.from_tensor_slices(train).shuffle(len(train), seed=seed).batch(batch_size)
    val = None
    if validation_data is not None:
        val = tf.data.Dataset.from_tensor_slices(_sequences(validation_data, model.x_dim, "validation")).batch(256)
    return model.fit(data, epochs=epochs, validation_data=val, shuffle=False, verbose=0).history


def _sequences(x, x_dim, name):
    x = np.asarray(x, np.float32)
    if x.ndim != 3 or x.shape[2] != x_dim:
        raise InvalidInputError(f"{name} sequences must have shape (n, T, {x_dim}), got {x.shape}")
    if not np.isfinite(x).all():
        raise InvalidInputError(f"{name} sequences contain NaN or infinite values")
    return x
