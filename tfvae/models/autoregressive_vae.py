"""A VAE whose decoder is autoregressive over the pixels: a decoder strong enough to need z less.

The decoder models every pixel given z *and the pixels before it* in raster order,
{eq}`eq-autoregressive-decoder`:

    p(x | z) = prod_i Bernoulli(x_i; sigmoid(l_i(x_<i, z))),

computed for all i in one pass by a MADE network (Germain et al., 2015) that also sees z:

    h = tanh((W_1 * M_1) x + V_1 z + b_1),
    l = (W_2 * M_2) h + (W_0 * M_0) x + V_2 z + b_2,

where the masks M_1, M_2, M_0 (`made_masks`, {eq}`eq-made-masks`) zero every path from x_j
to l_i with j >= i. So l_i depends on x_<i and z alone, and log p(x | z) of a whole image is
one pass over it (given x, all conditionals are known at once); drawing an image takes one
pass per pixel. `decode(z)` returns this distribution as TFP's `tfd.Autoregressive`, whose
`log_prob(x)` is exactly that one pass, so the ELBO, the importance-sampled log-likelihood
and `tfvae.training.fit` work unchanged. A model is built with `models.build(kind="made_vae")`;
`hidden_units` sets the MADE's hidden width (the encoder's too). Bernoulli pixels only.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import checks, networks
from tfvae.models.base import register
from tfvae.models.vae import VAE

tfd = tfp.distributions


def made_masks(pixels: int, hidden_units: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The masks of a one-hidden-layer MADE over `pixels` inputs in raster order, {eq}`eq-made-masks`.

    Pixel i (1-based) has degree i; hidden unit k has degree m_k in 1..D-1, spread evenly
    (m_k = 1 + k mod (D - 1)). A hidden unit may see pixel j when m_k >= j, and logit i may
    see hidden unit k when i > m_k, so every path from pixel j to logit i has j <= m_k < i.
    The direct connections see pixel j from logit i when j < i.

    Returns:
      M_1 (D, H), input to hidden; M_2 (H, D), hidden to logits; M_0 (D, D), input to
      logits; float32 arrays of 0 and 1, indexed [from, to].
    """
    pixels = checks.positive_int(pixels, "pixels")
    hidden_units = checks.positive_int(hidden_units, "hidden_units")
    if pixels < 2:
        raise checks.InvalidInputError(f"an autoregressive decoder needs at least 2 pixels, got {pixels}")
    degree = np.arange(1, pixels + 1)                      # of the pixels and of their logits
    hidden_degree = 1 + np.arange(hidden_units) % (pixels - 1)
    input_to_hidden = (hidden_degree[None, :] >= degree[:, None]).astype(np.float32)
    hidden_to_logit = (degree[None, :] > hidden_degree[:, None]).astype(np.float32)
    input_to_logit = (degree[None, :] > degree[:, None]).astype(np.float32)
    return input_to_hidden, hidden_to_logit, input_to_logit


class ConditionalMADE(keras.layers.Layer):
    """The logits l(x_<i, z) of {eq}`eq-autoregressive-decoder`: a masked MLP of the pixels, plus z.

    call(x, z): x (..., D) pixels and z (..., d) codes, broadcast against each other on the
    leading axes; returns logits (..., D), logit i a function of x_1..x_{i-1} and z only.
    The pixel part is computed once per image and shared by all of its codes, so scoring
    many samples of z for one image costs little more than the plain MLP decoder.
    """

    def __init__(self, pixels: int, latent_dim: int, hidden_units: int, **kwargs):
        super().__init__(**kwargs)
        masks = made_masks(pixels, hidden_units)
        self.masks = tuple(tf.constant(m) for m in masks)
        glorot = keras.initializers.GlorotUniform
        self.input_to_hidden = self.add_weight(shape=(pixels, hidden_units), initializer=glorot(), name="W_1")
        self.code_to_hidden = self.add_weight(shape=(latent_dim, hidden_units), initializer=glorot(), name="V_1")
        self.hidden_bias = self.add_weight(shape=(hidden_units,), initializer="zeros", name="b_1")
        self.hidden_to_logit = self.add_weight(shape=(hidden_units, pixels), initializer=glorot(), name="W_2")
        # The direct pixel-to-pixel weights start at zero: the model begins as a MADE without them.
        self.input_to_logit = self.add_weight(shape=(pixels, pixels), initializer="zeros", name="W_0")
        self.code_to_logit = self.add_weight(shape=(latent_dim, pixels), initializer=glorot(), name="V_2")
        self.logit_bias = self.add_weight(shape=(pixels,), initializer="zeros", name="b_2")

    def call(self, x, z):
        m1, m2, m0 = self.masks
        x, z = tf.cast(x, tf.float32), tf.cast(z, tf.float32)
        hidden = tf.tanh(tf.matmul(x, self.input_to_hidden * m1) + tf.matmul(z, self.code_to_hidden)
                         + self.hidden_bias)
        return (tf.matmul(hidden, self.hidden_to_logit * m2) + tf.matmul(x, self.input_to_logit * m0)
                + tf.matmul(z, self.code_to_logit) + self.logit_bias)


@register("made_vae")
class MADEVAE(VAE):
    """A VAE with the paper's encoder and an autoregressive MADE decoder, {eq}`eq-autoregressive-decoder`.

    decode(z) -> p(x|z) = prod_i p(x_i | x_<i, z), a `tfd.Autoregressive` (batch shape
    z.shape[:-1], event image_shape); its `log_prob(x)` is one pass, its samples one pass
    per pixel. It has no closed-form mean, so `sample` and `reconstruct` return binary
    images drawn from p(x|z).
    """

    def create_networks(self):
        config = self.config
        if config.likelihood != "bernoulli":
            raise checks.InvalidInputError(
                f"kind 'made_vae' models binary pixels: likelihood must be 'bernoulli', got {config.likelihood!r}")
        self.encoder = networks.encoder(config.architecture, config.image_shape, self.latent_parameters(),
                                        config.hidden_units)
        self.pixels = math.prod(config.image_shape)
        self.decoder = ConditionalMADE(self.pixels, self.latent_dim, config.hidden_units, name="made_decoder")

    def decode(self, z):
        """p(x|z), {eq}`eq-autoregressive-decoder`. Shapes: z (..., d) -> batch shape (...), event image_shape."""
        z = tf.convert_to_tensor(z, tf.float32)
        image_shape = list(self.image_shape)

        def pixels_given_previous(x):  # every conditional p(x_i | x_<i, z) at once, for the images x
            x = tf.convert_to_tensor(x, tf.float32)
            flat = tf.reshape(x, tf.concat([tf.shape(x)[:tf.rank(x) - len(image_shape)], [self.pixels]], axis=0))
            logits = self.decoder(flat, z)
            logits = tf.reshape(logits, tf.concat([tf.shape(logits)[:-1], image_shape], axis=0))
            return tfd.Independent(tfd.Bernoulli(logits=logits, dtype=tf.float32),
                                   reinterpreted_batch_ndims=len(image_shape))

        start = tf.zeros(tf.concat([tf.shape(z)[:-1], image_shape], axis=0))
        return tfd.Autoregressive(pixels_given_previous, sample0=start, num_steps=self.pixels)

    def sample(self, n: int, seed=None):
        """n images drawn from the model: z ~ p(z), then x ~ p(x|z), one pixel at a time. Shape (n, h, w)."""
        n = checks.positive_int(n, "n")
        prior_seed, pixel_seed = tfp.random.split_seed(seed, n=2) if seed is not None else (None, None)
        return self.decode(self.prior.sample(n, seed=prior_seed)).sample(seed=pixel_seed)

    def reconstruct(self, x, seed=None):
        """An image drawn from p(x|z) at the encoder's mean code for x. Shapes: (n, h, w) -> (n, h, w)."""
        return self.decode(self.encode(x).mean()).sample(seed=seed)

    def call(self, x, training=False):
        # Building the model runs this once; scoring x is the one pass every use needs, so that is
        # what it does (reconstruct would draw pixel by pixel).
        return self.decode(self.encode(x).mean()).log_prob(x)
