"""A VAE whose prior is learned: a mixture of Gaussians (kind "vae_mixture_prior").

`MixturePriorVAE` is the VAE of `tfvae.models.vae` with p(z) a mixture of K diagonal
Gaussians whose weights, means and variances are learned with the rest (the "mixture of
Gaussians prior" Tomczak & Welling (2018) compare their VampPrior with). The KL to a mixture
has no closed form, so the ELBO uses the Monte Carlo estimate of {eq}`eq-sgvb-mc`;
`tfvae.objectives.elbo` picks it because the prior is not a single Gaussian.

The mixture's components are also clusters. The prior's own posterior over them,
p(y|z) = w_y N(z; m_y, s_y^2) / p(z) ({eq}`eq-mixture-responsibility`), is the q(y|x, z) that
makes the two-level ELBO with a discrete y equal to this model's ELBO, so `cluster` reads an
image's cluster from it at z = mu(x), with no cluster network (Jiang et al.'s (2017) VaDE; the
same rule as Dilokthanakul et al.'s (2016) p(y|z, w)). `start_from_autoencoder` gives VaDE's start:
the networks of a trained autoencoder and a Gaussian mixture fitted to its codes by EM.
"""

from __future__ import annotations

import keras
import numpy as np
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

    # --- the components as clusters ---------------------------------------------
    def component_posterior(self, z):
        """p(y|z) = w_y N(z; m_y, diag s_y^2) / p(z), {eq}`eq-mixture-responsibility`.

        Shapes: z (..., d) -> Categorical with batch shape (...) over the K components.
        """
        z = tf.convert_to_tensor(z, tf.float32)
        components = self.prior.components_distribution  # batch (K,), event (d,)
        log_joint = tf.nn.log_softmax(self.prior_logits) + components.log_prob(z[..., None, :])
        return tfd.Categorical(logits=log_joint - tf.reduce_logsumexp(log_joint, axis=-1, keepdims=True))

    def cluster(self, x, batch_size: int = 1000) -> np.ndarray:
        """Cluster assignments argmax_y p(y | z = mu(x)). Shapes: (n, h, w) -> (n,) int64."""
        x = np.asarray(x, np.float32)
        return np.concatenate([
            np.argmax(self.component_posterior(self.posterior_parameters(x[i:i + batch_size])[0]).logits.numpy(),
                      axis=-1) for i in range(0, len(x), batch_size)]).astype(np.int64)

    def cluster_means(self) -> np.ndarray:
        """The means m_y of the prior's components, shape (K, d)."""
        return np.asarray(self.prior_means.numpy())

    def sample_cluster(self, y: int, n: int, seed=None):
        """n images from one component: z ~ N(m_y, diag s_y^2), then the mean of p(x|z). Shape (n, h, w)."""
        n = checks.positive_int(n, "n")
        if not 0 <= int(y) < self.components:
            raise InvalidInputError(f"cluster {y} is not in [0, {self.components})")
        gaussian = tfd.MultivariateNormalDiag(loc=self.prior_means[int(y)],
                                              scale_diag=tf.exp(self.prior_log_scales[int(y)]))
        return self.decode(gaussian.sample(n, seed=seed)).mean()


def fit_gaussian_mixture(codes, components: int, seed: int = 0, n_init: int = 3):
    """A mixture of `components` diagonal Gaussians fitted to codes by EM (scikit-learn), best of `n_init` starts.

    Shapes: codes (n, d) -> weights (K,), means (K, d), variances (K, d), all float64.
    """
    from sklearn.mixture import GaussianMixture

    components = checks.positive_int(components, "components")
    codes = np.asarray(codes, np.float64)
    if codes.ndim != 2 or len(codes) < components:
        raise InvalidInputError(f"codes must be an (n, d) array with n >= {components}, got shape {codes.shape}")
    if not np.isfinite(codes).all():
        raise InvalidInputError("codes contain NaN or infinite values")
    mixture = GaussianMixture(components, covariance_type="diag", n_init=n_init, random_state=seed).fit(codes)
    return mixture.weights_, mixture.means_, mixture.covariances_


def start_from_autoencoder(model: MixturePriorVAE, autoencoder, images, *, seed: int = 0,
                           initial_log_variance: float = -4.0):
    """VaDE's start (Jiang et al., 2017): a trained autoencoder's networks, and a mixture fitted to its codes.

    The encoder's mean half and the whole decoder become the autoencoder's, so that mu(x) is the
    autoencoder's code f(x); the log-variance half outputs `initial_log_variance` for every x
    (a narrow q(z|x), close to the autoencoder's point code). The prior becomes the diagonal
    Gaussian mixture that EM fits to the codes of `images` (`fit_gaussian_mixture`, with the
    model's number of components). Returns the fitted (weights, means, variances).
    """
    if not isinstance(model, MixturePriorVAE):
        raise InvalidInputError(f"start_from_autoencoder needs a vae_mixture_prior model, got kind {model.config.kind!r}")
    if getattr(autoencoder.config, "kind", None) != "autoencoder":
        raise InvalidInputError(f"start_from_autoencoder needs an autoencoder, got kind {autoencoder.config.kind!r}")
    for field in ("image_shape", "latent_dim", "architecture", "hidden_units", "likelihood"):
        ours, theirs = getattr(model.config, field), getattr(autoencoder.config, field)
        if tuple(np.atleast_1d(ours)) != tuple(np.atleast_1d(theirs)):
            raise InvalidInputError(f"the autoencoder's {field} is {theirs!r}, the model's {ours!r}")
    images = np.asarray(images, np.float32)
    codes = np.concatenate([autoencoder.encode(images[i:i + 5000]).mean().numpy()
                            for i in range(0, len(images), 5000)])
    weights, means, variances = fit_gaussian_mixture(codes, model.components, seed=seed)
    d = model.latent_dim
    model.encode(images[:1]), model.decode(tf.zeros((1, d)))  # builds the networks' weights
    for source, target in zip(autoencoder.encoder.weights, model.encoder.weights):
        value = source.numpy()
        if value.shape != tuple(target.shape):  # the output layer: d codes against d means and d log-variances
            log_variance_part = (np.zeros_like(value) if value.ndim == 2 else np.full_like(value, initial_log_variance))
            value = np.concatenate([value, log_variance_part], axis=-1)
        target.assign(value)
    for source, target in zip(autoencoder.decoder.weights, model.decoder.weights):
        target.assign(source.numpy())
    model.prior_logits.assign(np.log(weights).astype(np.float32))
    model.prior_means.assign(means.astype(np.float32))
    model.prior_log_scales.assign((0.5 * np.log(variances)).astype(np.float32))
    return weights, means, variances
