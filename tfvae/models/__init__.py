"""The models, one module per family; `tfvae.models` itself re-exports what every page uses.

* `tfvae.models.base`: `ModelConfig`, the registry of kinds (`register`, `KINDS`), `build`,
  `TrainableModel` (the training step every family shares, which `tfvae.training.fit` runs)
  and `LatentVariableModel` (a `TrainableModel` of images: encoder, decoder, p(x|z)).
* `tfvae.models.likelihoods`: p(x|z) per pixel, the families a config's `likelihood` names
  (Bernoulli, Gaussian with a fixed, shared or per-pixel variance, the discretized logistic).
* `tfvae.models.vae`: `VAE` (kind "vae") and `Autoencoder` (kind "autoencoder").
* `tfvae.models.autoregressive_vae`: a VAE whose decoder is autoregressive over the pixels, a MADE that
  also sees z (kind "made_vae"): a decoder strong enough to model the images without z.
* `tfvae.models.gmvae`: the Gaussian-mixture VAE (kind "gmvae"), its ELBO summed exactly over clusters.
* `tfvae.models.categorical_vae`: a VAE with categorical codes (kind "categorical_vae"), trained through
  the Gumbel-softmax relaxation or the straight-through estimator.
* `tfvae.models.flows` and `tfvae.models.iaf_vae`: inverse autoregressive flow steps, and a VAE whose
  posterior is such a flow (kind "vae_iaf").
* `tfvae.models.semi_supervised`: VAEs of an image and its label: the class-conditional VAE
  (kind "cvae") and Kingma et al.'s (2014) semi-supervised M2 (kind "m2"), with a classifier q(y|x).
* `tfvae.models.mixture_prior`: a VAE with a learned mixture-of-Gaussians prior (kind "vae_mixture_prior").
* `tfvae.models.vrnn`: the variational RNN for sequences (kind "vrnn"), and a linear-Gaussian VRNN
  whose exact likelihood (a Kalman filter's) checks its ELBO.

A new family is a new module here that subclasses `LatentVariableModel` (or `VAE`; a model of
something other than images, `TrainableModel`), registers
its kind with `@register("name")`, and is imported below, so that `build(kind="name")` and
`tfvae.serialization.load` know it.
"""

from tfvae.models.base import (KINDS, LIKELIHOODS, OBJECTIVES, LatentVariableModel, ModelConfig, TrainableModel,
                               build, register)
from tfvae.models.vae import VAE, Autoencoder
from tfvae.models import (autoregressive_vae, categorical_vae, gmvae,  # each registers its kinds on import
                          iaf_vae, mixture_prior, semi_supervised, vrnn)

__all__ = ["KINDS", "LIKELIHOODS", "OBJECTIVES", "Autoencoder", "LatentVariableModel", "ModelConfig", "VAE", "build",
           "TrainableModel", "autoregressive_vae", "categorical_vae", "gmvae", "iaf_vae", "mixture_prior", "register",
           "semi_supervised", "vrnn"]
