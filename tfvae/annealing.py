"""KL warm-up: the weight of the KL term grows from `start` to `target` over the first steps of training.

Early in training the decoder is poor, and the cheapest way to raise the ELBO is to make
every q(z|x) equal to the prior, which switches latent units off for good (posterior
collapse). Warm-up (Bowman et al., 2016; Sønderby et al., 2016) trains on

    L_t = E_q[log p(x|z)] - beta_t KL(q(z|x) || p(z)),
    beta_t = start + (target - start) min(1, t / T),

eq. {eq}`eq-kl-warmup`, where t counts epochs or optimizer steps and T is the length of
the warm-up. `KLWarmup` is a Keras callback that writes beta_t into the model's
`kl_weight` variable, which `VAE.loss_terms` multiplies the KL by.
"""

from __future__ import annotations

import math
import numbers

import keras

from tfvae import checks
from tfvae.errors import InvalidInputError

UNITS = ("epoch", "step")


def warmup_weight(t, warmup: int, *, start: float = 0.0, target: float = 1.0) -> float:
    """beta_t of eq. {eq}`eq-kl-warmup`: linear from `start` at t = 0 to `target` at t = `warmup`, then constant.

    Args:
      t: epochs or steps completed (>= 0).
      warmup: T, the length of the warm-up in the same unit.
    Returns:
      The KL weight, a float.
    """
    warmup = checks.positive_int(warmup, "warmup")
    if isinstance(t, bool) or not (isinstance(t, numbers.Real) and t >= 0):
        raise InvalidInputError(f"t must be a number >= 0, got {t!r}")
    return start + (target - start) * min(1.0, t / warmup)


class KLWarmup(keras.callbacks.Callback):
    """Set `model.kl_weight` to beta_t (eq. {eq}`eq-kl-warmup`) before every epoch or every step.

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
        if not hasattr(model, "kl_weight"):
            raise InvalidInputError(f"KL warm-up needs a model with a `kl_weight` variable (a VAE); "
                                    f"got {type(model).__name__}")
        super().set_model(model)

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
