"""What a trained VAE does with its latent units, and how its bound moves during training.

* Active units (Burda et al., 2016): unit u is active when its posterior mean moves with
  the data, A_u = Cov_x(E_{q(z|x)}[z_u]) > 0.01. An inactive unit ignores x, so q(z_u|x)
  can equal the prior and contribute nothing to the KL term or to the reconstruction.
* The KL per latent dimension: the terms of eq. {eq}`eq-kl-diag` before the sum over
  dimensions, averaged over the data. They sum to the average KL(q(z|x) || p(z)).
* `BoundCurve`: a callback recording the ELBO on fixed training and test images against
  the number of training samples seen, as in Kingma & Welling's Figure 2.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from tfvae import checks, objectives

ACTIVITY_THRESHOLD = 0.01  # Burda et al. (2016), section 5.2


def posterior_means(model, images, *, batch_size: int = 1000) -> np.ndarray:
    """E_{q(z|x)}[z] for every image. Shapes: (n, h, w) -> (n, d)."""
    x = checks.images(images, "images", image_shape=model.image_shape)
    batch_size = checks.positive_int(batch_size, "batch_size")
    return np.concatenate([model.encode(x[i:i + batch_size]).mean().numpy() for i in range(0, len(x), batch_size)])


def unit_activity(model, images, *, batch_size: int = 1000) -> np.ndarray:
    """A_u = Cov_x(E_{q(z|x)}[z_u]), the variance over the images of each unit's posterior mean.

    Shapes: (n, h, w) -> (d,).
    """
    means = posterior_means(model, images, batch_size=batch_size)
    if len(means) < 2:
        raise checks.InvalidInputError("unit activity is a variance over images; pass at least 2 images")
    return means.var(axis=0, ddof=1)


def active_units(model, images, *, threshold: float = ACTIVITY_THRESHOLD, batch_size: int = 1000) -> int:
    """The number of latent units whose activity A_u exceeds `threshold` (0.01, Burda et al., 2016)."""
    return int((unit_activity(model, images, batch_size=batch_size) > threshold).sum())


def mean_kl_per_dimension(model, images, *, batch_size: int = 1000) -> np.ndarray:
    """KL(q(z_j|x) || p(z_j)) for each latent dimension j, averaged over the images.

    `objectives.kl_per_dimension` (the terms of eq. {eq}`eq-kl-diag`) averaged over x;
    the entries sum to the average KL term of the ELBO. Shapes: (n, h, w) -> (d,), nats.
    """
    x = checks.images(images, "images", image_shape=model.image_shape)
    batch_size = checks.positive_int(batch_size, "batch_size")
    total = 0.0
    for i in range(0, len(x), batch_size):
        total += tf.reduce_sum(objectives.kl_per_dimension(model.encode(x[i:i + batch_size]), model.prior), axis=0)
    return (total / len(x)).numpy()


class BoundCurve(keras.callbacks.Callback):
    """Record the average ELBO on fixed training and test images as training proceeds.

    The bound is measured whenever the number of training samples seen (optimizer steps
    times `batch_size`) passes the next of `points_per_decade` log-spaced marks, and once
    at the end of every epoch, so the curve can be drawn against samples seen on a log axis.
    Keras calls callbacks once per compiled execution, so a mark is measured at the first
    execution boundary after it. The ELBO uses fixed noise, so the curve does not jitter
    with the Monte Carlo draw.

    After training: `samples` (list of ints), `train` and `test` (lists of nats).
    """

    def __init__(self, train_images, test_images, *, batch_size: int, points_per_decade: int = 4):
        super().__init__()
        self.train_images = tf.constant(checks.images(train_images, "train_images"))
        self.test_images = tf.constant(checks.images(test_images, "test_images"))
        self.batch_size = checks.positive_int(batch_size, "batch_size")
        self.points_per_decade = checks.positive_int(points_per_decade, "points_per_decade")
        self.samples: list[int] = []
        self.train: list[float] = []
        self.test: list[float] = []
        self._mark = 0  # marks are batch_size * 10^(i / points_per_decade), i = 0, 1, ...
        self._mean_elbo = self._model_compiled = None  # the bound, compiled for the model Keras sets

    def set_model(self, model):
        # A graph, not eager ops: a curve measures the bound some 70 times per run on
        # thousands of images, and the graph does it in half the time with the same numbers.
        # Traced once per model, though Keras sets the model at every call of fit.
        if model is not self._model_compiled:
            self._mean_elbo = tf.function(lambda x: tf.reduce_mean(model.elbo(x, seed=tf.constant([0, 0])).elbo))
            self._model_compiled = model
        super().set_model(model)

    def _bound(self, images):
        return float(self._mean_elbo(images))

    def _record(self, seen: int):
        if self.samples and self.samples[-1] == seen:
            return
        self.samples.append(seen)
        self.train.append(self._bound(self.train_images))
        self.test.append(self._bound(self.test_images))
        while self._next_mark() <= seen:
            self._mark += 1

    def _next_mark(self) -> int:
        return math.ceil(self.batch_size * 10 ** (self._mark / self.points_per_decade))

    def _seen(self) -> int:
        return int(self.model.optimizer.iterations.numpy()) * self.batch_size

    def on_train_batch_end(self, batch, logs=None):
        seen = self._seen()
        if seen >= self._next_mark():
            self._record(seen)

    def on_epoch_end(self, epoch, logs=None):
        self._record(self._seen())
