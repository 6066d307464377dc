"""A VAE whose prior is learned: a mixture of Gaussians (kind "vae_mixture_prior").

`MixturePriorVAE` is the VAE of `tfvae.models.vae` with p(z) a mixture of K diagonal
Gaussians whose weights, means and variances are learned with the rest (the "mixture of
Gaussians prior" Tomczak & Welling (2018) compare their VampPrior with). The KL to a mixture
has no closed form, so the ELBO uses the Monte Carlo estimate of {eq}`eq-sgvb-mc`;
`tfvae.objectives.elbo` picks it because the prior is not a single Gaussian.
"""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import checks
from tfvae.errors import InvalidInputError
from tfvae.models.base import register
from tfvae.models.vae import VAE

tfd = tfp.distributions

DEFAULT_PRIOR_COMPONENTS = 10


@register("vae_mixture_prior")
class MixturePriorVAE(VAE):
    """A VAE whose prior p(z) = sum_k w_k N(m_k, diag s_k^2) is learned (config.extra["components"] = K).

    Everything else (encoder, decoder, `encode`, `decode`, `elbo`, `sample`) is the VAE's.
    """

    @property
    def components(self) -> int:
        k = checks.positive_int(self.config.extra.get("components", DEFAULT_PRIOR_COMPONENTS), "components")
        if k < 2:
            raise InvalidInputError(f"a mixture prior needs components >= 2, got {k}")
        return k

    def create_state(self):
        super().create_state()
        k, d = self.components, self.latent_dim
        self.prior_logits = self.add_weight(shape=(k,), name="prior_logits", initializer="zeros")
        # Means spread like draws from N(0, I): the mixture starts close to the standard prior.
        self.prior_means = self.add_weight(
            shape=(k, d), name="prior_means",
            initializer=keras.initializers.RandomNormal(stddev=1.0, seed=self.config.seed))
        self.prior_log_scales = self.add_weight(shape=(k, d), name="prior_log_scales", initializer="zeros")

    @property
    def prior(self):
        """p(z): the learned mixture of K diagonal Gaussians, event shape (d,)."""
        return tfd.MixtureSameFamily(
            tfd.Categorical(logits=tf.convert_to_tensor(self.prior_logits)),
            tfd.MultivariateNormalDiag(loc=tf.convert_to_tensor(self.prior_means),
                                       scale_diag=tf.exp(tf.convert_to_tensor(self.prior_log_scales))))
