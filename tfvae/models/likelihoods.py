"""p(x|z) for one pixel: the families a decoder's outputs parameterize, by the config's `likelihood`.

* "bernoulli": binary pixels, one logit each.
* "gaussian": real-valued pixels, a mean and a learned scale each, {eq}`eq-gaussian-decoder`.
* "gaussian_fixed": real-valued pixels, a mean each and one fixed scale for all, which makes the
  reconstruction term a scaled squared error, {eq}`eq-gaussian-mse`.
* "gaussian_shared": the same with the one scale learned; the ELBO sets its square to the mean
  squared error per pixel, {eq}`eq-optimal-sigma`.
* "discretized_logistic": 8-bit pixels, a logistic's location and scale each, its mass on each of
  the 256 grey levels, {eq}`eq-discretized-logistic` (Salimans et al., 2017).

A new pixel family is a name in `tfvae.choices.LIKELIHOODS`, its width in `OUTPUTS_PER_PIXEL`, and a
branch of `pixel_distribution`.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

LEVELS = 256  # grey levels of an 8-bit pixel
# The smallest scale a learned scale can reach. Dequantized 8-bit data spread each level uniformly
# over a bin 1/256 wide, whose standard deviation is (1/256)/sqrt(12) = 0.0011: a floor just below it
# lets a pixel that never changes be modelled as tightly as the data allow, and no tighter.
MIN_SCALE = 1e-3
OUTPUTS_PER_PIXEL = {"bernoulli": 1, "gaussian": 2, "gaussian_fixed": 1, "gaussian_shared": 1, "discretized_logistic": 2}
UNIT_RANGE = ("bernoulli", "discretized_logistic")  # the families defined only for pixels in [0, 1]


def pixel_distribution(likelihood: str, outputs, scale=0.1):
    """The distribution of every pixel given the decoder's outputs.

    `scale` is the one standard deviation of "gaussian_fixed" and "gaussian_shared" pixels.
    Shapes: outputs (..., h, w) for one output per pixel, (..., h, w, 2) for two
    (`OUTPUTS_PER_PIXEL`) -> a distribution with batch shape (..., h, w).
    """
    if likelihood == "bernoulli":
        return tfd.Bernoulli(logits=outputs, dtype=tf.float32)
    if likelihood == "gaussian":
        return tfd.Normal(loc=outputs[..., 0], scale=tf.nn.softplus(outputs[..., 1]) + MIN_SCALE)
    if likelihood in ("gaussian_fixed", "gaussian_shared"):
        return tfd.Normal(loc=outputs, scale=scale)
    if likelihood == "discretized_logistic":
        return DiscretizedLogistic(loc=outputs[..., 0], scale=tf.nn.softplus(outputs[..., 1]) + MIN_SCALE)
    raise ValueError(f"unknown likelihood {likelihood!r}")


def pixel_levels(x):
    """The 8-bit grey level k in {0, ..., 255} of pixels in [0, 1], as float32.

    Both ways tfvae stores an 8-bit image map to the same level: the raw value k/255 and a
    dequantized value (k + u)/256 with u in [0, 1) both lie in [k/256, (k+1)/256), except k = 255,
    whose raw value 1 is clipped into the last bin.
    """
    return tf.clip_by_value(tf.floor(tf.cast(x, tf.float32) * LEVELS), 0.0, LEVELS - 1.0)


class DiscretizedLogistic(tfp.distributions.Logistic):
    """A logistic density's mass on the 256 bins [k/256, (k+1)/256) of [0, 1], {eq}`eq-discretized-logistic`.

    P(k) = F((k+1)/256) - F(k/256) with F the logistic CDF, except that the first bin takes all the
    mass below 1/256 and the last all the mass above 255/256, so the 256 probabilities sum to one and
    a pixel that is always black (or white) can have probability near one. `log_prob` takes pixels
    in [0, 1] (raw k/255 or dequantized, see `pixel_levels`); `sample` and `mean` return values k/255,
    as the raw data store them.
    """

    def _log_prob(self, x):
        level = pixel_levels(x)
        loc, scale = tf.convert_to_tensor(self.loc), tf.convert_to_tensor(self.scale)
        lower = (level / LEVELS - loc) / scale           # a = (k/256 - mu) / s
        upper = ((level + 1) / LEVELS - loc) / scale     # b = ((k+1)/256 - mu) / s
        # sigmoid(b) - sigmoid(a) = sigmoid(b) sigmoid(-a) (1 - exp(a - b)): every factor in (0, 1] and
        # computed in logs, so no bin's mass underflows to a difference of two nearly equal numbers.
        log_below_upper = -tf.nn.softplus(-upper)        # log sigmoid(b): mass below the bin's top
        log_above_lower = -tf.nn.softplus(lower)         # log sigmoid(-a): mass above the bin's bottom
        log_width = tf.math.log(-tf.math.expm1(-1.0 / (LEVELS * scale)))  # log(1 - exp(a - b))
        first, last = tf.equal(level, 0.0), tf.equal(level, LEVELS - 1.0)
        return (tf.where(last, 0.0, log_below_upper) + tf.where(first, 0.0, log_above_lower)
                + tf.where(first | last, 0.0, log_width))

    def _prob(self, x):
        return tf.exp(self._log_prob(x))

    def _sample_n(self, n, seed=None):
        continuous = super()._sample_n(n, seed=seed)
        return pixel_levels(continuous) / (LEVELS - 1)

    def _mean(self, **kwargs):
        # E[k] = sum_{k=1}^{255} P(level >= k) = sum_{k=1}^{255} (1 - F(k/256)), then in the data's units k/255.
        edges = tf.range(1, LEVELS, dtype=tf.float32) / LEVELS
        loc, scale = self.loc[..., tf.newaxis], self.scale[..., tf.newaxis]
        return tf.reduce_sum(tf.sigmoid((loc - edges) / scale), axis=-1) / (LEVELS - 1)

    # What the logistic density defines and the discretized distribution does not: refused, not inherited.
    def _unsupported(self, *args, **kwargs):
        raise NotImplementedError("a discretized logistic has log_prob, prob, sample and mean only")

    _log_cdf = _cdf = _log_survival_function = _survival_function = _unsupported
    _entropy = _stddev = _variance = _mode = _quantile = _unsupported
    _default_event_space_bijector = _unsupported
