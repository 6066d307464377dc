"""The Gaussian-mixture VAE: a discrete cluster y above the continuous code z.

Generative model (Dilokthanakul et al., 2016, in the simpler form of Shu, 2016):

    y ~ p(y) = Categorical(1/K, ..., 1/K),   z | y ~ p(z|y) = N(m_y, diag s_y^2),   x | z ~ p(x|z),

with the K means m_y and variances s_y^2 learned, and p(x|z) the VAE's decoder.
Recognition model: q(y|x) = Categorical(pi(x)) and q(z|x,y) = N(mu_y(x), diag sigma_y^2(x));
one encoder network outputs the K logits and, for every y, a mean and a log-variance.

The ELBO sums over y exactly instead of sampling it, which needs no gradient estimator
for the discrete y ({eq}`eq-gmvae-elbo`):

    ELBO(x) = sum_y q(y|x) [ E_q(z|x,y) log p(x|z) - KL(q(z|x,y) || p(z|y)) ] - KL(q(y|x) || p(y)).

Interface, as for `tfvae.models.VAE`: `encode(x)` is the marginal q(z|x) = sum_y q(y|x) q(z|x,y)
(a `tfd.MixtureSameFamily`, batch (n,), event (d,)); `decode(z)` is p(x|z); `prior` is the
marginal p(z) = sum_y p(y) p(z|y). So `tfvae.evaluation.evaluate` and the importance-sampled
log-likelihood work unchanged. A model is built with `models.build(kind="gmvae",
extra={"components": K})`.

Trained on the ELBO alone, the model tends to leave y uninformative: q(y|x) stays close to
uniform, or puts every image in one cluster, and the mixture acts as a single Gaussian
(Dilokthanakul et al. (2016) call this over-regularization). The ELBO's cluster term averaged over the data splits as

    E_x KL(q(y|x) || p(y)) = I_q(x; y) + KL(q(y) || p(y)),   q(y) = E_x q(y|x),

and its first part charges every image log K nats for being confidently in a cluster. With
`extra={"cluster_kl": "marginal"}` the training loss keeps only the second part, computed on
the minibatch: clusters may be confident, but must be used equally often. Like free bits
({eq}`eq-free-bits`) this changes what is optimized, not what is reported: the `elbo`
metric stays the exact {eq}`eq-gmvae-elbo`.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import checks, networks, objectives
from tfvae.models.base import LatentVariableModel, register

tfd = tfp.distributions

DEFAULT_COMPONENTS = 10
CLUSTER_KLS = ("exact", "marginal")


def mixture_elbo(log_q_y, reconstruction, kl_z, log_p_y):
    """The ELBO summed exactly over the cluster y, {eq}`eq-gmvae-elbo`.

    ELBO = sum_y q(y|x) [reconstruction_y - kl_z_y] - KL(q(y|x) || p(y)),
    KL(q(y|x) || p(y)) = sum_y q(y|x) [log q(y|x) - log p(y)].

    Args:
      log_q_y: log q(y|x), shape (n, K).
      reconstruction: E_q(z|x,y) log p(x|z) per example and cluster, (n, K).
      kl_z: KL(q(z|x,y) || p(z|y)) per example and cluster (or its one-sample estimate), (n, K).
      log_p_y: log p(y), shape (K,).
    Returns:
      ElboTerms (elbo, reconstruction, kl) with fields of shape (n,); kl = KL_z + KL_y.
    """
    q_y = tf.exp(log_q_y)
    expected_reconstruction = tf.reduce_sum(q_y * reconstruction, axis=-1)
    kl_y = tf.reduce_sum(q_y * (log_q_y - log_p_y), axis=-1)
    kl = tf.reduce_sum(q_y * kl_z, axis=-1) + kl_y
    return objectives.ElboTerms(expected_reconstruction - kl, expected_reconstruction, kl)


@register("gmvae")
class GMVAE(LatentVariableModel):
    """Gaussian-mixture VAE with K clusters.

    config.extra: "components" (K, default 10); "cluster_kl": "exact" (train on the ELBO,
    the default) or "marginal" (train with the minibatch's KL(q(y) || p(y)) in place of
    the per-image cluster KL; see the module docstring).
    """

    metric_names = ("loss", "elbo", "reconstruction", "kl")
    supported_objectives = ("elbo",)  # its own ELBO, {eq}`eq-gmvae-elbo`, with the cluster_kl option

    @property
    def components(self) -> int:
        return checks.positive_int(self.config.extra.get("components", DEFAULT_COMPONENTS), "components")

    @property
    def cluster_kl(self) -> str:
        return checks.one_of(self.config.extra.get("cluster_kl", "exact"), CLUSTER_KLS, "cluster_kl")

    def latent_parameters(self) -> int:
        return self.components  # the base class's encoder gives the logits of q(y|x)

    def create_state(self):
        k, d, h = self.components, self.latent_dim, self.config.hidden_units
        if k < 2:
            raise checks.InvalidInputError(f"a mixture needs components >= 2, got {k}")
        self.cluster_kl  # checks the setting now, so a bad one fails at build time
        # q(z|x,y) is one network of (x, y), as in Shu (2016): its first layer acts on the
        # concatenation [features(x), onehot(y)], i.e. features(x) + embedding[y]. Sharing it
        # across y matters: with a separate head per cluster, only the head of the currently
        # most probable cluster is trained, which wins ever more images, until one cluster holds all.
        self.z_features = networks.encoder(self.config.architecture, self.image_shape, h, h)
        # Clusters start almost alike (small embeddings and prior means), so no cluster is better
        # for every image at the start; with spread-out starts, the one that happens to fit best
        # wins all images within an epoch, and the softmax saturates before others can learn.
        self.cluster_embedding = self.add_weight(
            shape=(k, h), name="cluster_embedding",
            initializer=keras.initializers.RandomNormal(stddev=0.1, seed=self.config.seed + 1))
        self.z_parameters = keras.layers.Dense(2 * d, name="z_parameters")
        self.prior_means = self.add_weight(
            shape=(k, d), name="prior_means",
            initializer=keras.initializers.RandomNormal(stddev=0.1, seed=self.config.seed))
        self.prior_log_variances = self.add_weight(shape=(k, d), name="prior_log_variances", initializer="zeros")

    # --- distributions -----------------------------------------------------
    def posterior_parameters(self, x):
        """logits of q(y|x) (n, K); means and log-variances of q(z|x,y), each (n, K, d)."""
        x = tf.convert_to_tensor(x, tf.float32)
        logits = tf.cast(self.encoder(x), tf.float32)
        features = tf.cast(self.z_features(x), tf.float32)  # (n, h)
        hidden = tf.tanh(features[:, None, :] + self.cluster_embedding[None])  # (n, K, h)
        out = tf.cast(self.z_parameters(hidden), tf.float32)  # (n, K, 2d)
        return logits, out[..., :self.latent_dim], out[..., self.latent_dim:]

    def cluster_posterior(self, x):
        """q(y|x), a Categorical with batch shape (n,)."""
        logits, _, _ = self.posterior_parameters(x)
        return tfd.Categorical(logits=logits)

    def component_posteriors(self, x):
        """q(z|x,y) for every y: MultivariateNormalDiag with batch shape (n, K), event (d,)."""
        _, mean, log_var = self.posterior_parameters(x)
        return tfd.MultivariateNormalDiag(loc=mean, scale_diag=tf.exp(0.5 * log_var))

    def encode(self, x):
        """The marginal q(z|x) = sum_y q(y|x) q(z|x,y): batch (n,), event (d,)."""
        logits, mean, log_var = self.posterior_parameters(x)
        return tfd.MixtureSameFamily(tfd.Categorical(logits=logits),
                                     tfd.MultivariateNormalDiag(loc=mean, scale_diag=tf.exp(0.5 * log_var)))

    @property
    def log_p_y(self):
        """log p(y): the uniform prior over clusters, shape (K,)."""
        return tf.fill([self.components], -math.log(self.components))

    @property
    def conditional_prior(self):
        """p(z|y) for every y: MultivariateNormalDiag with batch shape (K,), event (d,)."""
        return tfd.MultivariateNormalDiag(loc=tf.convert_to_tensor(self.prior_means),
                                          scale_diag=tf.exp(0.5 * tf.convert_to_tensor(self.prior_log_variances)))

    @property
    def prior(self):
        """The marginal p(z) = sum_y p(y) p(z|y): a mixture of K Gaussians, event (d,)."""
        return tfd.MixtureSameFamily(tfd.Categorical(logits=self.log_p_y), self.conditional_prior)

    # --- the objective -------------------------------------------------------
    def component_terms(self, x, n_samples: int | None = None, seed=None):
        """The per-cluster pieces of {eq}`eq-gmvae-elbo`, for every example and every y.

        Samples z_y = mu_y(x) + sigma_y(x) * eps (reparameterized) for each y, L of them.
        Returns (log q(y|x), reconstruction, kl_z), each of shape (n, K): reconstruction is the
        L-sample average of log p(x|z_y); kl_z is KL(q(z|x,y) || p(z|y)) in closed form
        (config.analytic_kl) or the L-sample average of log q(z_y|x,y) - log p(z_y|y).
        """
        n_samples = checks.positive_int(n_samples or self.config.n_samples, "n_samples")
        x = tf.convert_to_tensor(x, tf.float32)
        logits, mean, log_var = self.posterior_parameters(x)
        noise_shape = tf.concat([[n_samples], tf.shape(mean)], axis=0)
        eps = (tf.random.normal(noise_shape) if seed is None
               else tf.random.stateless_normal(noise_shape, seed=seed))
        z = mean + tf.exp(0.5 * log_var) * eps  # (L, n, K, d)
        reconstruction = tf.reduce_mean(self.decode(z).log_prob(x[:, None]), axis=0)
        prior_mean, prior_log_var = self.prior_means, self.prior_log_variances
        if self.config.analytic_kl:
            kl_z = objectives.gaussian_kl(mean, log_var, prior_mean, prior_log_var)
        else:
            q = tfd.MultivariateNormalDiag(loc=mean, scale_diag=tf.exp(0.5 * log_var))
            kl_z = tf.reduce_mean(q.log_prob(z) - self.conditional_prior.log_prob(z), axis=0)
        return tf.nn.log_softmax(logits), reconstruction, kl_z

    def elbo(self, x, n_samples: int | None = None, seed=None) -> objectives.ElboTerms:
        """Per-example ELBO terms, {eq}`eq-gmvae-elbo`, summed exactly over y. Shapes: (n, h, w) -> (n,)."""
        return mixture_elbo(*self.component_terms(x, n_samples, seed), self.log_p_y)

    def loss_terms(self, x, seed=None) -> dict:
        log_q_y, reconstruction, kl_z = self.component_terms(x, seed=seed)
        terms = mixture_elbo(log_q_y, reconstruction, kl_z, self.log_p_y)
        if self.cluster_kl == "exact":
            loss = -tf.reduce_mean(terms.elbo)
        else:
            q_y = tf.exp(log_q_y)
            q_marginal = tf.reduce_mean(q_y, axis=0)
            marginal_kl = tf.reduce_sum(q_marginal * (tf.math.log(q_marginal + 1e-12) - self.log_p_y))
            loss = -tf.reduce_mean(tf.reduce_sum(q_y * (reconstruction - kl_z), axis=-1)) + marginal_kl
        return {"loss": loss, "elbo": terms.elbo, "reconstruction": terms.reconstruction, "kl": terms.kl}

    # --- using the clusters ---------------------------------------------------
    def cluster(self, x, batch_size: int = 1000) -> np.ndarray:
        """Cluster assignments argmax_y q(y|x). Shapes: (n, h, w) -> (n,) int64."""
        x = np.asarray(x, np.float32)
        return np.concatenate([np.argmax(self.posterior_parameters(x[i:i + batch_size])[0].numpy(), axis=-1)
                               for i in range(0, len(x), batch_size)]).astype(np.int64)

    def cluster_means(self) -> np.ndarray:
        """The means m_y of p(z|y), shape (K, d)."""
        return np.asarray(self.prior_means.numpy())

    def sample(self, n: int, seed=None):
        """n images from the model: y ~ p(y), z ~ p(z|y), then the mean of p(x|z). Shape (n, h, w)."""
        n = checks.positive_int(n, "n")
        return self.decode(self.prior.sample(n, seed=seed)).mean()

    def sample_cluster(self, y: int, n: int, seed=None):
        """n images from one cluster: z ~ p(z|y), then the mean of p(x|z). Shape (n, h, w)."""
        n = checks.positive_int(n, "n")
        if not 0 <= int(y) < self.components:
            raise checks.InvalidInputError(f"cluster {y} is not in [0, {self.components})")
        mean, log_var = self.prior_means[int(y)], self.prior_log_variances[int(y)]
        gaussian = tfd.MultivariateNormalDiag(loc=mean, scale_diag=tf.exp(0.5 * log_var))
        return self.decode(gaussian.sample(n, seed=seed)).mean()
