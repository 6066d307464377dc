"""What a trained model is measured by, besides its bound: one module per kind of question.

* `tfvae.metrics.latent_units`: which latent units are active (Burda et al., 2016), and the KL
  each one costs.
* `tfvae.metrics.clustering`: Hungarian-matched clustering accuracy, NMI, the k-means baseline.
* `tfvae.metrics.disentanglement`: the mutual information gap (MIG) on data with known factors.
* `tfvae.metrics.latent_paths`: paths between codes (linear, spherical), where their midpoints
  land, and steps of a chosen size away from a code.
* `tfvae.metrics.probes`: linear probes on codes, and a pixel classifier that judges decoded images.
* `tfvae.metrics.sharpness`: how sharp images are, to measure the blur of a model's samples.

Held-out bounds and log-likelihoods are `tfvae.evaluation`'s.
"""

from tfvae.metrics import clustering, disentanglement, latent_paths, latent_units, probes, sharpness

__all__ = ["clustering", "disentanglement", "latent_paths", "latent_units", "probes", "sharpness"]
