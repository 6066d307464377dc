"""A VAE whose code is discrete: N categorical variables of K categories each (Jang et al., 2017; Maddison et al., 2017).

Generative model: z = (z_1, ..., z_N), each z_n one-hot with p(z_n) = Cat(1/K, ..., 1/K),
independent; x | z ~ p(x|z), the VAE's decoder applied to the N*K numbers of the one-hot codes.
Recognition model: q(z|x) = prod_n Cat(z_n; softmax(l_n(x))), with the N*K logits l(x) from the encoder.

The ELBO, {eq}`eq-categorical-elbo`, keeps the KL in closed form ({eq}`eq-categorical-kl`):

    ELBO(x) = E_q(z|x) log p(x|z) - sum_n KL(q(z_n|x) || Cat(1/K)).

Its first term has no reparameterization: z is a step function of the encoder's output.
The training loss therefore replaces the sample in that term (config.extra["estimator"]):

* "gumbel_softmax": by the relaxed sample y = softmax((l + g) / tau), {eq}`eq-gumbel-softmax`;
  the decoder then learns from points inside the simplex that it never sees at test time;
* "straight_through": by the one-hot Gumbel-max sample of the same noise in the forward pass,
  with y's gradient in the backward pass, {eq}`eq-straight-through`; the decoder sees only codes.

The temperature tau is the variable `temperature` (start: config.extra["temperature"], 1 by
default); `tfvae.training.TemperatureAnnealing` lowers it during training. Whatever the
estimator, the reported `elbo` is the discrete ELBO at the one-hot sample of the step's
noise, so the numbers of the two estimators compare. `encode`, `decode` and `prior` are
`tfd` distributions with event shape (N, K), so `tfvae.objectives.marginal_log_likelihood`
estimates log p(x) with one-hot samples of q as for any VAE.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import categorical, checks, objectives
from tfvae.choices import CATEGORICAL_ESTIMATORS
from tfvae.models.base import LatentVariableModel, register

tfd = tfp.distributions

DEFAULT_CATEGORIES = 10


@register("categorical_vae")
class CategoricalVAE(LatentVariableModel):
    """A VAE with N = config.latent_dim categorical variables of K categories.

    config.extra: "categories" (K, default 10); "estimator": "gumbel_softmax" (default) or
    "straight_through"; "temperature": the starting tau (default 1.0).
    """

    metric_names = ("loss", "elbo", "reconstruction", "kl")
    supported_objectives = ("elbo",)

    @property
    def categories(self) -> int:
        return checks.positive_int(self.config.extra.get("categories", DEFAULT_CATEGORIES), "categories")

    @property
    def estimator(self) -> str:
        return checks.one_of(self.config.extra.get("estimator", "gumbel_softmax"), CATEGORICAL_ESTIMATORS,
                             "categorical estimator")

    def latent_parameters(self) -> int:
        return self.latent_dim * self.categories

    def code_size(self) -> int:
        return self.latent_dim * self.categories

    def create_state(self):
        if self.categories < 2:
            raise checks.InvalidInputError(f"a categorical variable needs categories >= 2, got {self.categories}")
        self.estimator  # checks the setting now, so a bad one fails at build time
        start = self.config.extra.get("temperature", 1.0)
        if isinstance(start, bool) or not (isinstance(start, (int, float)) and math.isfinite(start) and start > 0):
            raise checks.InvalidInputError(f"temperature must be a finite number > 0, got {start!r}")
        self.temperature = keras.Variable(float(start), dtype="float32", trainable=False, name="temperature")
        self.kl_weight = keras.Variable(float(self.config.beta), dtype="float32", trainable=False, name="kl_weight")

    # --- distributions -----------------------------------------------------
    def posterior_logits(self, x):
        """The encoder's logits of q(z|x). Shapes: (n, h, w) -> (n, N, K)."""
        out = tf.cast(self.encoder(tf.cast(x, tf.float32)), tf.float32)
        return tf.reshape(out, [-1, self.latent_dim, self.categories])

    def encode(self, x):
        """q(z|x) = prod_n Cat(softmax(l_n(x))), one-hot: batch shape (n,), event (N, K)."""
        return tfd.Independent(tfd.OneHotCategorical(logits=self.posterior_logits(x), dtype=tf.float32),
                               reinterpreted_batch_ndims=1)

    @property
    def prior(self):
        """p(z) = prod_n Cat(1/K, ..., 1/K), one-hot: event (N, K)."""
        return tfd.Independent(tfd.OneHotCategorical(logits=tf.zeros([self.latent_dim, self.categories]),
                                                     dtype=tf.float32), reinterpreted_batch_ndims=1)

    def decode(self, z):
        """p(x|z) for one-hot (or relaxed) codes z (..., N, K): batch shape (...), event image_shape."""
        z = tf.convert_to_tensor(z, tf.float32)
        return super().decode(tf.reshape(z, tf.concat([tf.shape(z)[:-2], [self.code_size()]], axis=0)))

    def reconstruct(self, x):
        """The mean of p(x|z) at each variable's most probable category. Shapes: (n, h, w) -> (n, h, w)."""
        return self.decode(self.encode(x).mode()).mean()

    def sample(self, n: int, seed=None):
        """n images from the model: z ~ p(z) (every category equally likely), then the mean of p(x|z)."""
        n = checks.positive_int(n, "n")
        return self.decode(self.prior.sample(n, seed=seed)).mean()

    # --- the objective -------------------------------------------------------
    def kl(self, logits):
        """sum_n KL(q(z_n|x) || Cat(1/K)), {eq}`eq-categorical-kl`. Shapes: (n, N, K) -> (n,)."""
        return tf.reduce_sum(categorical.kl_to_uniform(logits), axis=-1)

    def elbo(self, x, n_samples: int | None = None, seed=None) -> objectives.ElboTerms:
        """The discrete ELBO, {eq}`eq-categorical-elbo`, with L exact one-hot samples of q. Shapes: (n, h, w) -> (n,)."""
        n_samples = checks.positive_int(n_samples or self.config.n_samples, "n_samples")
        x = tf.convert_to_tensor(x, tf.float32)
        logits = self.posterior_logits(x)
        z = categorical.gumbel_max(tf.broadcast_to(logits, tf.concat([[n_samples], tf.shape(logits)], 0)), seed=seed)
        reconstruction = tf.reduce_mean(self.decode(z).log_prob(x), axis=0)
        kl = self.kl(logits)
        return objectives.ElboTerms(reconstruction - kl, reconstruction, kl)

    def relaxed_and_discrete_elbo(self, x, seed=None, noise=None) -> tuple[objectives.ElboTerms, objectives.ElboTerms]:
        """Two ELBOs per example at one draw of the noise, from one pass of the encoder:

        * relaxed: the decoder fed what the estimator trains it on, the relaxed sample
          ({eq}`eq-gumbel-softmax`) or the straight-through one ({eq}`eq-straight-through`,
          whose value is the one-hot sample's);
        * discrete: {eq}`eq-categorical-elbo` at the one-hot Gumbel-max sample of the same noise.

        For straight-through the two are the same numbers. `noise` (Gumbel, shape (n, N, K)) replaces the draw.
        """
        x = tf.convert_to_tensor(x, tf.float32)
        logits = self.posterior_logits(x)
        noise = categorical.gumbel_noise(tf.shape(logits), seed) if noise is None else noise
        code = categorical.gumbel_softmax(logits, self.temperature, noise=noise)
        kl = self.kl(logits)
        if self.estimator == "straight_through":
            reconstruction = self.decode(categorical.straight_through(code)).log_prob(x)
            relaxed = objectives.ElboTerms(reconstruction - kl, reconstruction, kl)
            return relaxed, relaxed
        reconstruction = self.decode(code).log_prob(x)
        hard = tf.stop_gradient(self.decode(categorical.gumbel_max(logits, noise=noise)).log_prob(x))
        return (objectives.ElboTerms(reconstruction - kl, reconstruction, kl),
                objectives.ElboTerms(hard - kl, hard, kl))

    def loss_terms(self, x, seed=None) -> dict:
        """The training loss, the relaxed ELBO with a beta-weighted KL, and the discrete ELBO
        ({eq}`eq-categorical-elbo`) at the one-hot sample of the same noise, to report."""
        relaxed, discrete = self.relaxed_and_discrete_elbo(x, seed)
        loss = -tf.reduce_mean(relaxed.reconstruction - self.kl_weight * relaxed.kl)
        return {"loss": loss, "elbo": discrete.elbo, "reconstruction": discrete.reconstruction, "kl": discrete.kl}

    def code_indices(self, x, batch_size: int = 1000):
        """The most probable category of each variable, argmax_k q(z_n = e_k | x). Shapes: (n, h, w) -> (n, N) int64."""
        x = np.asarray(x, np.float32)
        return np.concatenate([tf.argmax(self.posterior_logits(x[i:i + batch_size]), axis=-1).numpy()
                               for i in range(0, len(x), batch_size)]).astype(np.int64)

    def one_hot(self, indices):
        """One-hot codes from category indices. Shapes: (..., N) ints in [0, K) -> (..., N, K)."""
        indices = tf.convert_to_tensor(indices, tf.int64)
        if indices.shape.rank < 1 or indices.shape[-1] != self.latent_dim:
            raise checks.InvalidInputError(f"codes need a last axis of {self.latent_dim} variables, got shape "
                                           f"{indices.shape}")
        if bool(tf.reduce_any((indices < 0) | (indices >= self.categories))):
            raise checks.InvalidInputError(f"every category must be in [0, {self.categories})")
        return tf.one_hot(indices, self.categories, dtype=tf.float32)
