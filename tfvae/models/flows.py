"""Inverse autoregressive flow (Kingma et al., 2016): the pieces of a flow posterior.

* `autoregressive_masks`: MADE's masks (Germain et al., 2015), which make output j of a
  network depend only on inputs before j in a chosen order.
* `AutoregressiveNetwork`: a one-hidden-layer MADE with a context input h(x) that every
  output may see; it gives each coordinate a shift m_j and a gate logit s_j.
* `InverseAutoregressiveStep`: one step z' = sigma * z + (1 - sigma) * m with
  sigma = sigmoid(s), a `tfb.Bijector` whose Jacobian is triangular, so that
  log |det dz'/dz| = sum_j log sigma_j, {eq}`eq-iaf-log-det`.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import checks

tfb = tfp.bijectors

# The gate logits start near this value, so that sigma = sigmoid(2) = 0.88 and each step
# starts close to the identity (Kingma et al., 2016, "forget gate bias").
GATE_BIAS = 2.0


def autoregressive_masks(dim: int, hidden_units: int, reverse: bool = False):
    """MADE's masks for inputs of size `dim` in the order 1..dim (or dim..1 with `reverse`).

    Input i has degree m(i) (its place in the order); hidden unit k has degree
    m_h(k) = 1 + (k mod max(dim - 1, 1)). Input i feeds unit k when m_h(k) >= m(i), and unit k
    feeds output j when m(j) > m_h(k). A path from input i to output j then needs
    m(j) > m_h(k) >= m(i), so output j sees only the inputs before it in the order, and the
    first output sees none.

    Returns: (input-to-hidden mask (dim, hidden_units), hidden-to-output mask
    (hidden_units, dim)), float32 arrays of zeros and ones.
    """
    dim = checks.positive_int(dim, "dim")
    hidden_units = checks.positive_int(hidden_units, "hidden_units")
    degrees = np.arange(1, dim + 1)
    if reverse:
        degrees = degrees[::-1]
    hidden_degrees = 1 + np.arange(hidden_units) % max(dim - 1, 1)
    into_hidden = (hidden_degrees[None, :] >= degrees[:, None]).astype(np.float32)
    into_output = (degrees[None, :] > hidden_degrees[:, None]).astype(np.float32)
    return into_hidden, into_output


class AutoregressiveNetwork(keras.layers.Layer):
    """MADE with a context: (z, h) -> (m, s), each output j a function of z_<j (in the
    layer's order) and of the context h alone.

        a = tanh((W_z * M_1)^T z + W_h^T h + b_1),   [m, s] = (W_o * M_2)^T a + b_o

    with the masks M_1, M_2 of `autoregressive_masks`. The output weights start at zero, so
    m = 0 and s = GATE_BIAS until training moves them.

    Shapes: z (..., n, dim) and h (n, context_units) -> m, s of shape (..., n, dim).
    """

    def __init__(self, dim: int, context_units: int, hidden_units: int, reverse: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.dim = checks.positive_int(dim, "dim")
        self.context_units = checks.positive_int(context_units, "context_units")
        self.hidden_units = checks.positive_int(hidden_units, "hidden_units")
        self.reverse = bool(reverse)
        into_hidden, into_output = autoregressive_masks(dim, hidden_units, reverse)
        self.input_mask = tf.constant(into_hidden)
        self.output_mask = tf.constant(np.concatenate([into_output, into_output], axis=1))  # for m and for s
        self.input_kernel = self.add_weight(shape=(dim, hidden_units), initializer="glorot_uniform", name="input_kernel")
        self.context_kernel = self.add_weight(shape=(context_units, hidden_units), initializer="glorot_uniform",
                                              name="context_kernel")
        self.hidden_bias = self.add_weight(shape=(hidden_units,), initializer="zeros", name="hidden_bias")
        self.output_kernel = self.add_weight(shape=(hidden_units, 2 * dim), initializer="zeros", name="output_kernel")
        self.output_bias = self.add_weight(
            shape=(2 * dim,), name="output_bias",
            initializer=keras.initializers.Constant(np.r_[np.zeros(dim), np.full(dim, GATE_BIAS)].astype(np.float32)))

    def call(self, z, context):
        z = tf.convert_to_tensor(z, tf.float32)
        hidden = tf.tanh(tf.linalg.matmul(z, self.input_kernel * self.input_mask)
                         + tf.linalg.matmul(context, self.context_kernel) + self.hidden_bias)
        out = tf.linalg.matmul(hidden, self.output_kernel * self.output_mask) + self.output_bias
        return out[..., :self.dim], out[..., self.dim:]


class InverseAutoregressiveStep(tfp.bijectors.Bijector):
    """One IAF step, {eq}`eq-iaf-step`: z' = sigma * z + (1 - sigma) * m, sigma = sigmoid(s),
    with (m, s) = network(z, context) autoregressive in z.

    Forward (what sampling needs) is one network pass. The Jacobian dz'/dz is triangular
    in the network's order with diagonal sigma, so log |det| = sum_j log sigma_j,
    {eq}`eq-iaf-log-det`. The inverse needs the coordinates one after another: `dim`
    passes, each fixing one more. TFP's bijector cache skips it when log_prob is asked of
    samples this step made, which is all the ELBO and the importance-weighted bound ask.

    Shapes: z (..., n, dim) with context (n, context_units) -> (..., n, dim).
    """

    def __init__(self, network: AutoregressiveNetwork, context, name: str = "inverse_autoregressive_step"):
        self.network = network
        self.context = tf.convert_to_tensor(context, tf.float32)
        super().__init__(forward_min_event_ndims=1, validate_args=False, name=name)

    def _forward(self, z):
        shift, gate_logit = self.network(z, self.context)
        gate = tf.sigmoid(gate_logit)
        return gate * z + (1.0 - gate) * shift

    def _inverse(self, y):
        z = tf.zeros_like(y)
        for _ in range(self.network.dim):  # after pass i the first i coordinates (in the order) are exact
            shift, gate_logit = self.network(z, self.context)
            gate = tf.sigmoid(gate_logit)
            z = (y - (1.0 - gate) * shift) / gate
        return z

    def _forward_log_det_jacobian(self, z):
        _, gate_logit = self.network(z, self.context)
        return tf.reduce_sum(tf.math.log_sigmoid(gate_logit), axis=-1)


def flow_bijector(networks, context):
    """The IAF steps of `networks` (applied first to last) as one bijector, conditioned on `context`."""
    steps = [InverseAutoregressiveStep(network, context, name=f"iaf_step_{t}") for t, network in enumerate(networks)]
    return tfb.Chain(steps[::-1])  # tfb.Chain applies its last bijector first


def flow_distribution(mean, log_var, networks, context):
    """q(z) = N(mean, diag exp(log_var)) pushed through the IAF steps of `networks`, {eq}`eq-flow-density`.

    With no networks it is the diagonal Gaussian itself. Shapes: mean, log_var (..., d); the
    distribution's batch shape is mean.shape[:-1], its event shape (d,).
    """
    base = tfp.distributions.MultivariateNormalDiag(loc=mean, scale_diag=tf.exp(0.5 * log_var))
    return tfp.distributions.TransformedDistribution(base, flow_bijector(networks, context))


def fit_flow(log_density, dim: int, *, flow_steps: int = 2, hidden_units: int = 64, iterations: int = 2000,
             learning_rate: float = 1e-2, n_samples: int = 64, seed: int = 0):
    """Fit q = IAF(N(m, diag s^2)) to an unnormalized density by maximizing the ELBO.

    Maximizes E_q[log_density(z) - log q(z)] ({eq}`eq-elbo-jensen`, with log_density in place of
    log p(x, z)) over m, log s^2 and the steps' weights, by Adam on `n_samples`
    reparameterized draws per iteration. With `flow_steps=0`, q is the best diagonal Gaussian
    that gradient ascent finds. This is inference for one target, with nothing amortized: the
    steps' context is a constant.

    Args:
      log_density: z (..., dim) -> (...), float32, for example log p(x, z) of one x.
    Returns:
      the fitted q, a distribution with event shape (dim,).
    """
    dim = checks.positive_int(dim, "dim")
    iterations = checks.positive_int(iterations, "iterations")
    n_samples = checks.positive_int(n_samples, "n_samples")
    if isinstance(flow_steps, bool) or not isinstance(flow_steps, int) or flow_steps < 0:
        raise checks.InvalidInputError(f"flow_steps must be an integer >= 0, got {flow_steps!r}")
    mean = keras.Variable(np.zeros(dim, np.float32), name="mean")
    log_var = keras.Variable(np.zeros(dim, np.float32), name="log_var")
    context = tf.ones((1, 1))
    networks = [AutoregressiveNetwork(dim, 1, hidden_units, reverse=t % 2 == 1) for t in range(flow_steps)]
    variables = [mean, log_var] + [v for network in networks for v in network.trainable_variables]
    optimizer = keras.optimizers.Adam(learning_rate)

    def fitted():
        return flow_distribution(mean, log_var, networks, context)

    @tf.function
    def climb(step_seed):
        with tf.GradientTape() as tape:
            q = fitted()
            z = q.sample(n_samples, seed=step_seed)
            loss = -tf.reduce_mean(log_density(z) - q.log_prob(z))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))

    for step in range(iterations):
        climb(tf.constant([seed, step], tf.int32))
    return fitted()
