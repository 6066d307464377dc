"""The Keras callbacks of tfvae, in one place: what runs between training steps.

* `KLWarmup`: writes the KL weight beta_t of {eq}`eq-kl-warmup` (`tfvae.annealing`) into
  the model before every epoch or step.
* `TemperatureAnnealing`: writes the Gumbel-softmax temperature tau_t of {eq}`eq-temperature-schedule`
  into a categorical VAE before every step.
* `BoundCurve`: records the ELBO on fixed training and test images against the number of
  training samples seen, as in Kingma & Welling's Figure 2.
* `FiniteLossGuard`, `TimeBudget` and `Progress`: used by `tfvae.training.fit` itself, to stop
  at the first non-finite loss, to stop when a wall-clock budget is spent, and to draw a progress bar.
"""

from __future__ import annotations

import math
import numbers
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from tfvae import checks, config
from tfvae.annealing import UNITS, temperature, warmup_weight
from tfvae.errors import InvalidInputError


def _having(model, variable: str, schedule: str, example: str):
    """`model`, if it has the variable a schedule writes; else an error naming both."""
    if not hasattr(model, variable):
        raise InvalidInputError(f"{schedule} needs a model with a `{variable}` variable ({example}); "
                                f"got {type(model).__name__}")
    return model


class KLWarmup(keras.callbacks.Callback):
    """Set `model.kl_weight` to beta_t ({eq}`eq-kl-warmup`) before every epoch or every step.

    With `unit="epoch"`, t is the epoch about to run, so epoch 0 trains with `start` and
    epoch `warmup` and later with `target`. With `unit="step"`, t is the optimizer's step
    count, which a resumed run restores, so the schedule continues where it stopped. Keras
    calls callbacks once per compiled execution, so with `steps_per_execution = s` > 1 the
    per-step weight is updated every s steps (a staircase under the line).

    `history` records every (t, beta_t) the callback set, for plotting the schedule.
    """

    def __init__(self, warmup: int, *, unit: str = "epoch", start: float = 0.0, target: float = 1.0):
        super().__init__()
        self.warmup = checks.positive_int(warmup, "warmup")
        self.unit = checks.one_of(unit, UNITS, "warm-up unit")
        for name, value in (("start", start), ("target", target)):
            if isinstance(value, bool) or not (isinstance(value, numbers.Real) and math.isfinite(value) and value >= 0):
                raise InvalidInputError(f"{name} must be a finite number >= 0, got {value!r}")
        self.start, self.target = float(start), float(target)
        self.history: list[tuple[int, float]] = []

    def set_model(self, model):
        super().set_model(_having(model, "kl_weight", "KL warm-up", "a VAE"))

    def _set(self, t: int):
        weight = warmup_weight(t, self.warmup, start=self.start, target=self.target)
        self.model.kl_weight.assign(weight)
        self.history.append((t, weight))

    def on_epoch_begin(self, epoch, logs=None):
        if self.unit == "epoch":
            self._set(int(epoch))

    def on_train_batch_begin(self, batch, logs=None):
        if self.unit == "step":
            self._set(int(self.model.optimizer.iterations.numpy()))


class TemperatureAnnealing(keras.callbacks.Callback):
    """Set `model.temperature` to tau_t ({eq}`eq-temperature-schedule`) before every step.

    t is the optimizer's step count, which a resumed run restores, so the schedule
    continues where it stopped. As with `KLWarmup`, Keras calls callbacks once per compiled
    execution, so with `steps_per_execution = s` > 1 tau changes every s steps.
    `history` records every (t, tau_t) set.
    """

    def __init__(self, rate: float, *, start: float = 1.0, minimum: float = 0.5):
        super().__init__()
        temperature(0, rate, start=start, minimum=minimum)  # checks the settings now
        self.rate, self.start, self.minimum = float(rate), float(start), float(minimum)
        self.history: list[tuple[int, float]] = []

    def set_model(self, model):
        super().set_model(_having(model, "temperature", "temperature annealing", "a categorical VAE"))

    def on_train_batch_begin(self, batch, logs=None):
        t = int(self.model.optimizer.iterations.numpy())
        tau = temperature(t, self.rate, start=self.start, minimum=self.minimum)
        self.model.temperature.assign(tau)
        self.history.append((t, tau))


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


class FiniteLossGuard(keras.callbacks.Callback):
    """Stops training at the first non-finite loss and remembers it."""

    def __init__(self):
        super().__init__()
        self.bad_value = None

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(float(loss)):
            self.bad_value = float(loss)
            self.model.stop_training = True


class TimeBudget(keras.callbacks.Callback):
    """Stops training after the first compiled call that ends `seconds` or more after `start`.

    `images` counts the training images of the current epoch's finished calls (each call
    trains `images_per_call` images, the epoch's last call possibly fewer), so that a run cut
    short in the middle of an epoch knows how much of it ran.
    """

    def __init__(self, seconds: float, *, start: float, images_per_call: int, images_per_epoch: int):
        super().__init__()
        self.seconds, self.start = seconds, start
        self.images_per_call, self.images_per_epoch = images_per_call, images_per_epoch
        self.spent, self.images = False, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.images = 0

    def on_train_batch_end(self, batch, logs=None):
        self.images = min(self.images + self.images_per_call, self.images_per_epoch)
        if time.perf_counter() - self.start >= self.seconds:
            self.spent = True
            self.model.stop_training = True


class Progress(keras.callbacks.Callback):
    """A progress bar over the whole run (stderr), showing the running loss, ELBO and KL."""

    def __init__(self, epochs, steps_per_epoch, steps_per_call, start_epoch):
        super().__init__()
        from tqdm import tqdm

        self.steps_per_epoch, self.steps_per_call = steps_per_epoch, steps_per_call
        self.bar = tqdm(total=epochs * steps_per_epoch, initial=start_epoch * steps_per_epoch,
                        unit="step", file=sys.stderr, dynamic_ncols=True, mininterval=0.5,
                        disable=not config.progress_bars())
        self.epoch = start_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        # Keras counts steps, or calls when each call runs a group of up to steps_per_call steps.
        self.bar.n = self.epoch * self.steps_per_epoch + min((batch + 1) * self.steps_per_call, self.steps_per_epoch)
        logs = logs or {}
        self.bar.set_postfix({k: f"{float(logs[k]):.2f}" for k in ("loss", "elbo", "kl") if k in logs},
                             refresh=False)
        self.bar.refresh()

    def close(self):
        self.bar.close()
