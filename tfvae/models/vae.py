"""The variational autoencoder of Kingma & Welling (2014), and the plain autoencoder beside it.

* `VAE` (kind "vae"): q(z|x) from `encode`, p(x|z) from `decode`, a prior p(z) it holds;
  trained on the ELBO ({eq}`eq-sgvb-analytic`), optionally beta-weighted ({eq}`eq-beta-vae`) or on the importance-weighted bound ({eq}`eq-iwae`), or by
  wake-sleep ({eq}`eq-wake`, {eq}`eq-sleep`) for comparison.
* `Autoencoder` (kind "autoencoder"): the same networks with a deterministic code, trained
  on reconstruction alone.
"""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import checks, objectives
from tfvae.models.base import LatentVariableModel, register

tfd = tfp.distributions


@register("vae")
class VAE(LatentVariableModel):
    """The variational autoencoder of Kingma & Welling (2014).

    encode(x) -> q(z|x) = N(mu(x), diag sigma^2(x))      (batch shape (n,), event (d,))
    decode(z) -> p(x|z), Bernoulli or Gaussian pixels     (batch shape z.shape[:-1])
    prior     -> p(z) = N(0, I) unless a subclass says otherwise
    """

    metric_names = ("loss", "elbo", "reconstruction", "kl")

    def create_state(self):
        self.kl_weight = keras.Variable(float(self.config.beta), dtype="float32", trainable=False, name="kl_weight")

    def latent_parameters(self) -> int:
        return 2 * self.latent_dim

    @property
    def prior(self):
        """p(z): a standard normal. Subclasses may return any distribution with event shape (d,)."""
        return tfd.MultivariateNormalDiag(loc=tf.zeros(self.latent_dim))

    def posterior_parameters(self, x):
        """The encoder's mean and log-variance of q(z|x). Shapes: (n, h, w) -> (n, d), (n, d)."""
        out = tf.cast(self.encoder(tf.cast(x, tf.float32)), tf.float32)
        return out[..., :self.latent_dim], out[..., self.latent_dim:]

    def encode(self, x):
        """q(z|x) = N(mu(x), diag exp(log_var(x))), {eq}`eq-recognition-model`."""
        mean, log_var = self.posterior_parameters(x)
        return tfd.MultivariateNormalDiag(loc=mean, scale_diag=tf.exp(0.5 * log_var))

    def sample(self, n: int, seed=None):
        """n images from the model: z ~ p(z), then the mean of p(x|z). Shape (n, h, w)."""
        n = checks.positive_int(n, "n")
        return self.decode(self.prior.sample(n, seed=seed)).mean()

    def elbo(self, x, n_samples: int | None = None, seed=None) -> objectives.ElboTerms:
        """Per-example ELBO terms ({eq}`eq-sgvb-analytic`) with the model's own settings."""
        return objectives.elbo(x, self.encode, self.decode, self.prior,
                               n_samples=n_samples or self.config.n_samples,
                               analytic_kl=self.config.analytic_kl, seed=seed)

    def loss_terms(self, x, seed=None) -> dict:
        """The training loss of the config's objective, and the plain ELBO's terms to report.

        "elbo": the beta-weighted ELBO, {eq}`eq-beta-vae` (beta = 1 is the ELBO), with free bits,
        {eq}`eq-free-bits`, when set; "iwae": the importance-weighted bound, {eq}`eq-iwae`;
        "wake_sleep": the wake and sleep phases, {eq}`eq-wake` and {eq}`eq-sleep`.
        """
        elbo_seed, objective_seed = tfp.random.split_seed(seed, n=2) if seed is not None else (None, None)
        if self.config.objective == "wake_sleep":
            # The wake phase's pass through the networks also gives the reported ELBO.
            phases = objectives.wake_sleep(x, self.encode, self.decode, self.prior, seed=objective_seed)
            terms = phases.elbo
            loss = -tf.reduce_mean(phases.wake) - tf.reduce_mean(phases.sleep)
        elif self.config.objective == "iwae":
            terms = self.elbo(x, seed=elbo_seed)
            bound = objectives.importance_weighted_bound(x, self.encode, self.decode, self.prior,
                                                         k=self.config.iwae_k, seed=objective_seed)
            loss = -tf.reduce_mean(bound)
        else:
            terms = self.elbo(x, seed=elbo_seed)
            # The beta-weighted objective, {eq}`eq-beta-vae`; beta = 1 is the ELBO.
            kl = terms.kl
            if self.config.free_bits > 0:
                kl = objectives.free_bits_kl(self.encode(x), self.prior, self.config.free_bits)
            loss = -tf.reduce_mean(terms.reconstruction - self.kl_weight * kl)
        return {"loss": loss, "elbo": terms.elbo, "reconstruction": terms.reconstruction, "kl": terms.kl}


@register("autoencoder")
class Autoencoder(LatentVariableModel):
    """A deterministic autoencoder with the VAE's networks: z = f(x), trained to maximize log p(x | f(x)).

    `encode` returns a point mass at f(x), so code written for a VAE (`.mean()`, `decode`)
    works unchanged; there is no prior, so an autoencoder cannot `sample`.
    """

    metric_names = ("loss", "reconstruction")

    def latent_parameters(self) -> int:
        return self.latent_dim

    def encode(self, x):
        code = tf.cast(self.encoder(tf.cast(x, tf.float32)), tf.float32)
        return tfd.Independent(tfd.Deterministic(loc=code), reinterpreted_batch_ndims=1)

    def loss_terms(self, x, seed=None) -> dict:
        reconstruction = self.decode(self.encode(x).mean()).log_prob(x)
        return {"loss": -tf.reduce_mean(reconstruction), "reconstruction": reconstruction}
