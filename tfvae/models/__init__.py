"""The models, one module per family; `tfvae.models` itself re-exports what every page uses.

* `tfvae.models.base`: `ModelConfig`, the registry of kinds (`register`, `KINDS`), `build`,
  and `LatentVariableModel`, the encoder-decoder-training-step every family shares.
* `tfvae.models.vae`: `VAE` (kind "vae") and `Autoencoder` (kind "autoencoder").
* `tfvae.models.gmvae`: the Gaussian-mixture VAE (kind "gmvae"), its ELBO summed exactly over clusters.
* `tfvae.models.mixture_prior`: a VAE with a learned mixture-of-Gaussians prior (kind "vae_mixture_prior").
* `tfvae.models.vrnn`: the variational RNN for sequences, and a linear-Gaussian VRNN whose exact
  likelihood (a Kalman filter's) checks its ELBO.

A new family is a new module here that subclasses `LatentVariableModel` (or `VAE`), registers
its kind with `@register("name")`, and is imported below, so that `build(kind="name")` and
`tfvae.serialization.load` know it.
"""

from tfvae.models.base import KINDS, LIKELIHOODS, OBJECTIVES, LatentVariableModel, ModelConfig, build, register
from tfvae.models.vae import VAE, Autoencoder
from tfvae.models import gmvae, mixture_prior, vrnn  # gmvae and mixture_prior register their kinds on import

__all__ = ["KINDS", "LIKELIHOODS", "OBJECTIVES", "Autoencoder", "LatentVariableModel", "ModelConfig", "VAE", "build",
           "gmvae", "mixture_prior", "register", "vrnn"]
