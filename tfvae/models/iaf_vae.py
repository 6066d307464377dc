"""A VAE whose posterior is an inverse autoregressive flow (kind "vae_iaf"; Kingma et al., 2016).

`IAFVAE` is the VAE of `tfvae.models.vae` with q(z|x) the diagonal Gaussian of the encoder
pushed through T steps of `tfvae.models.flows.InverseAutoregressiveStep`, each conditioned on
a context h(x) that the encoder outputs beside the Gaussian's mean and log-variance,
{eq}`eq-flow-density`. Such a q has no closed-form KL to the prior, so the ELBO uses the
Monte Carlo estimate of {eq}`eq-sgvb-mc`; `tfvae.objectives.elbo` picks it because q is not
a diagonal Gaussian.

config.extra: "flow_steps" T (default 2), "context_units" (the size of h, default 50) and
"flow_hidden_units" (each step's MADE hidden layer, default 100). Consecutive steps use
opposite orders, so every coordinate can depend on every other after two steps.
"""

from __future__ import annotations

import tensorflow as tf

from tfvae import checks
from tfvae.errors import InvalidInputError
from tfvae.models import flows
from tfvae.models.base import register
from tfvae.models.vae import VAE

DEFAULT_FLOW_STEPS = 2
DEFAULT_CONTEXT_UNITS = 50
DEFAULT_FLOW_HIDDEN_UNITS = 100


@register("vae_iaf")
class IAFVAE(VAE):
    """A VAE with an inverse-autoregressive-flow posterior.

    encode(x) -> q(z|x): N(mu(x), diag sigma^2(x)) transformed by T IAF steps (batch (n,), event (d,))
    Everything else (decoder, prior, `elbo`, `sample`) is the VAE's.
    """

    supported_objectives = ("elbo", "iwae")

    def __init__(self, config, **kwargs):
        if config.free_bits > 0:
            raise InvalidInputError("free bits need a diagonal-Gaussian posterior's per-dimension KL; "
                                    "model kind 'vae_iaf' has a flow posterior")
        super().__init__(config, **kwargs)

    def _setting(self, name: str, default: int) -> int:
        return checks.positive_int(self.config.extra.get(name, default), name)

    @property
    def context_units(self) -> int:
        return self._setting("context_units", DEFAULT_CONTEXT_UNITS)

    def latent_parameters(self) -> int:
        return 2 * self.latent_dim + self.context_units

    def create_networks(self):
        super().create_networks()
        steps = self._setting("flow_steps", DEFAULT_FLOW_STEPS)
        hidden = self._setting("flow_hidden_units", DEFAULT_FLOW_HIDDEN_UNITS)
        self.flow_networks = [flows.AutoregressiveNetwork(self.latent_dim, self.context_units, hidden,
                                                          reverse=t % 2 == 1, name=f"flow_step_{t}")
                              for t in range(steps)]

    def posterior_parameters(self, x):
        """The base Gaussian's mean and log-variance, and the context h(x).

        Shapes: (n, h, w) -> (n, d), (n, d), (n, context_units).
        """
        out = tf.cast(self.encoder(tf.cast(x, tf.float32)), tf.float32)
        d = self.latent_dim
        return out[..., :d], out[..., d:2 * d], out[..., 2 * d:]

    def encode(self, x):
        """q(z|x): the encoder's diagonal Gaussian pushed through the flow, {eq}`eq-flow-density`."""
        mean, log_var, context = self.posterior_parameters(x)
        return flows.flow_distribution(mean, log_var, self.flow_networks, context)

    def posterior_center(self, x):
        """The flow's image of the base Gaussian's mean: a code for x (a flow posterior has no closed-form mean).

        Shapes: (n, h, w) -> (n, d).
        """
        mean, _, context = self.posterior_parameters(x)
        return flows.flow_bijector(self.flow_networks, context).forward(mean)

    def reconstruct(self, x):
        """The mean of p(x|z) at `posterior_center(x)`. Shapes: (n, h, w) -> (n, h, w)."""
        return self.decode(self.posterior_center(x)).mean()
