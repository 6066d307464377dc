"""The linear-Gaussian latent variable model (probabilistic PCA): the one model whose
evidence, posterior and ELBO all have closed forms, so every bound in the book can be
checked against the exact answer.

    z ~ N(0, I_d),    x | z ~ N(W z + mu, sigma^2 I_D)

(Tipping & Bishop, 1999). With M = W^T W + sigma^2 I_d (d x d):

* the marginal ({eq}`eq-marginal`) is p(x) = N(x; mu, W W^T + sigma^2 I_D);
* the posterior ({eq}`eq-posterior`) is
  p(z|x) = N(z; M^{-1} W^T (x - mu), sigma^2 M^{-1});
* for any Gaussian q(z|x) = N(m, S), the ELBO ({eq}`eq-elbo-recon-kl`) is
  E_q[log p(x|z)] - KL(q || p(z)) with
  E_q[log p(x|z)] = -D/2 log(2 pi sigma^2) - (|x - mu - W m|^2 + tr(W^T W S)) / (2 sigma^2),
  and it equals log p(x) - KL(q || p(z|x)) ({eq}`eq-elbo-decomposition`).

Everything is float64: the book checks identities such as ELBO = log p(x) when q is the
exact posterior "to float precision", which float32 round-off would blur.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import checks
from tfvae.errors import InvalidInputError

tfd = tfp.distributions

DTYPE = tf.float64


class LinearGaussian:
    """Probabilistic PCA: z ~ N(0, I_d), x|z ~ N(W z + mu, sigma^2 I_D).

    Args:
      weights: W, shape (D, d).
      offset: mu, shape (D,).
      noise_variance: sigma^2 > 0.
    """

    def __init__(self, weights, offset, noise_variance: float):
        weights = _finite_array(weights, "weights")
        offset = _finite_array(offset, "offset")
        if weights.ndim != 2 or min(weights.shape) < 1:
            raise InvalidInputError(f"weights must be a (D, d) matrix, got shape {weights.shape}")
        if offset.shape != weights.shape[:1]:
            raise InvalidInputError(f"offset has shape {offset.shape}; weights of shape {weights.shape} "
                                    f"need an offset of shape ({weights.shape[0]},)")
        if (isinstance(noise_variance, bool) or not isinstance(noise_variance, numbers.Real)
                or not math.isfinite(noise_variance) or noise_variance <= 0):
            raise InvalidInputError(f"noise_variance must be a finite number > 0, got {noise_variance!r}")
        self.weights = tf.constant(weights, DTYPE)
        self.offset = tf.constant(offset, DTYPE)
        self.noise_variance = float(noise_variance)
        self.data_dim, self.latent_dim = weights.shape

    # --- the model -------------------------------------------------------------
    @property
    def prior(self):
        """p(z) = N(0, I_d), event shape (d,)."""
        return tfd.MultivariateNormalDiag(loc=tf.zeros(self.latent_dim, DTYPE))

    def decode(self, z):
        """p(x|z) = N(W z + mu, sigma^2 I_D). Shapes: z (..., d) -> batch shape (...), event (D,)."""
        z = tf.convert_to_tensor(z, DTYPE)
        loc = tf.linalg.matvec(self.weights, z) + self.offset
        scale = tf.fill([self.data_dim], tf.constant(math.sqrt(self.noise_variance), DTYPE))
        return tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale)

    def marginal(self):
        """p(x) = N(mu, W W^T + sigma^2 I_D), {eq}`eq-marginal` in closed form. Event shape (D,)."""
        covariance = (tf.matmul(self.weights, self.weights, transpose_b=True)
                      + self.noise_variance * tf.eye(self.data_dim, dtype=DTYPE))
        return tfd.MultivariateNormalTriL(loc=self.offset, scale_tril=tf.linalg.cholesky(covariance))

    def log_evidence(self, x):
        """The exact log p(x) of {eq}`eq-marginal`, in nats. Shapes: (n, D) -> (n,)."""
        return self.marginal().log_prob(self._data(x))

    def posterior_parameters(self, x):
        """The exact posterior's mean and covariance, {eq}`eq-posterior`.

        mean = M^{-1} W^T (x - mu), covariance = sigma^2 M^{-1}, with M = W^T W + sigma^2 I_d;
        the covariance does not depend on x. Shapes: (n, D) -> (n, d), (d, d).
        """
        x = self._data(x)
        chol = tf.linalg.cholesky(self._m_matrix())
        projected = tf.matmul(x - self.offset, self.weights)  # rows are W^T (x - mu)
        mean = tf.transpose(tf.linalg.cholesky_solve(chol, tf.transpose(projected)))
        covariance = self.noise_variance * tf.linalg.cholesky_solve(chol, tf.eye(self.latent_dim, dtype=DTYPE))
        return mean, 0.5 * (covariance + tf.transpose(covariance))

    def posterior(self, x):
        """The exact p(z|x) of {eq}`eq-posterior`: batch shape (n,), event shape (d,)."""
        mean, covariance = self.posterior_parameters(x)
        return tfd.MultivariateNormalTriL(loc=mean, scale_tril=tf.linalg.cholesky(covariance))

    def exact_elbo(self, x, q_mean, q_cov):
        """The ELBO of {eq}`eq-elbo-recon-kl` in closed form for q(z|x) = N(q_mean, q_cov).

        ELBO = E_q[log p(x|z)] - KL(q || p(z)), where
        E_q[log p(x|z)] = -D/2 log(2 pi sigma^2) - (|x - mu - W m|^2 + tr(W^T W S)) / (2 sigma^2)
        and KL(q || N(0, I)) = (tr S + |m|^2 - d - log det S) / 2. By {eq}`eq-elbo-decomposition` it equals log p(x) - KL(q || p(z|x)) <= log p(x).

        Shapes: x (n, D), q_mean (n, d), q_cov (d, d) or (n, d, d) symmetric positive
        definite -> (n,), in nats.
        """
        x = self._data(x)
        m = tf.convert_to_tensor(_finite_array(q_mean, "q_mean"), DTYPE)
        s = tf.convert_to_tensor(_finite_array(q_cov, "q_cov"), DTYPE)
        if m.shape != (x.shape[0], self.latent_dim):
            raise InvalidInputError(f"q_mean has shape {tuple(m.shape)}; expected ({x.shape[0]}, {self.latent_dim})")
        if s.shape not in ((self.latent_dim, self.latent_dim), (x.shape[0], self.latent_dim, self.latent_dim)):
            raise InvalidInputError(f"q_cov has shape {tuple(s.shape)}; expected ({self.latent_dim}, "
                                    f"{self.latent_dim}) or ({x.shape[0]}, {self.latent_dim}, {self.latent_dim})")
        matrices = s.numpy().reshape(-1, self.latent_dim, self.latent_dim)
        if not (np.allclose(matrices, np.swapaxes(matrices, -1, -2)) and np.linalg.eigvalsh(matrices).min() > 0):
            raise InvalidInputError("q_cov must be a symmetric positive definite covariance matrix")
        log_det = tf.linalg.logdet(s)
        trace_s = tf.linalg.trace(s)
        trace_wws = tf.linalg.trace(tf.matmul(tf.matmul(self.weights, self.weights, transpose_a=True), s))
        residual = x - self.offset - tf.linalg.matvec(self.weights, m)
        reconstruction = (-0.5 * self.data_dim * math.log(2 * math.pi * self.noise_variance)
                          - (tf.reduce_sum(tf.square(residual), axis=-1) + trace_wws) / (2 * self.noise_variance))
        kl = 0.5 * (trace_s + tf.reduce_sum(tf.square(m), axis=-1) - self.latent_dim - log_det)
        return reconstruction - kl

    def sample(self, n: int, seed=None):
        """n draws of x from the model: z ~ p(z), then x ~ p(x|z). Shape (n, D).

        seed: an int or a stateless seed (int32 tensor of shape (2,)); the same seed gives the same draws.
        """
        n = checks.positive_int(n, "n")
        if isinstance(seed, numbers.Integral):
            seed = tf.constant([int(seed), 0], tf.int32)  # TFP treats a bare int as a stateful seed
        z_seed, x_seed = tfp.random.split_seed(tfp.random.sanitize_seed(seed), n=2)
        z = self.prior.sample(n, seed=z_seed)
        return self.decode(z).sample(seed=x_seed)

    # --- helpers ---------------------------------------------------------------
    def _m_matrix(self):
        return (tf.matmul(self.weights, self.weights, transpose_a=True)
                + self.noise_variance * tf.eye(self.latent_dim, dtype=DTYPE))

    def _data(self, x):
        x = _finite_array(x, "x")
        if x.ndim != 2 or x.shape[1] != self.data_dim:
            raise InvalidInputError(f"x has shape {x.shape}; expected (n, {self.data_dim})")
        if x.shape[0] == 0:
            raise InvalidInputError("x is empty")
        return tf.constant(x, DTYPE)


def fit_ppca(x, latent_dim: int) -> LinearGaussian:
    """The maximum-likelihood probabilistic PCA of data x (Tipping & Bishop, 1999), in closed form.

    With S the sample covariance (1/n normalization), eigenvalues l_1 >= ... >= l_D and
    eigenvectors U: mu = mean(x), sigma^2 = mean(l_{d+1}, ..., l_D) (the variance the d
    principal directions leave out), W = U_d (diag(l_1..l_d) - sigma^2 I)^{1/2}
    (unique up to a rotation of z; this picks none).

    Shapes: x (n, D), latent_dim d < D -> a LinearGaussian with W (D, d).
    """
    x = _finite_array(x, "x")
    if x.ndim != 2:
        raise InvalidInputError(f"x must be a (n, D) matrix, got shape {x.shape}")
    n, data_dim = x.shape
    latent_dim = checks.positive_int(latent_dim, "latent_dim")
    if latent_dim >= data_dim:
        raise InvalidInputError(f"latent_dim must be smaller than the data dimension {data_dim}, got {latent_dim}")
    if n < 2:
        raise InvalidInputError(f"fitting needs at least 2 data points, got {n}")
    offset = x.mean(axis=0)
    centred = x - offset
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred / n)
    eigenvalues, eigenvectors = eigenvalues[::-1], eigenvectors[:, ::-1]  # largest first
    noise_variance = float(eigenvalues[latent_dim:].mean())
    if not noise_variance > 0:
        raise InvalidInputError("the data lie in a subspace of dimension <= latent_dim, so the maximum-likelihood "
                                "noise variance is 0; choose a smaller latent_dim or add noise")
    scales = np.sqrt(np.maximum(eigenvalues[:latent_dim] - noise_variance, 0.0))
    return LinearGaussian(eigenvectors[:, :latent_dim] * scales, offset, noise_variance)


def _finite_array(value, name: str) -> np.ndarray:
    if isinstance(value, (tf.Tensor, tf.Variable)):
        value = value.numpy()
    array = np.asarray(value)
    if array.dtype.kind not in "fiu":
        raise InvalidInputError(f"{name} must be numeric, got dtype {array.dtype}")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise InvalidInputError(f"{name} contains {int((~np.isfinite(array)).sum())} NaN or infinite values")
    return array
