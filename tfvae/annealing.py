"""Schedules that change the objective during training: KL warm-up and the Gumbel-softmax temperature.

KL warm-up: the weight of the KL term grows from `start` to `target` over the first steps of training.

Early in training the decoder is poor, and the cheapest way to raise the ELBO is to make
every q(z|x) equal to the prior, which switches latent units off for good (posterior
collapse). Warm-up (Bowman et al., 2016; Sønderby et al., 2016) trains on

    L_t = E_q[log p(x|z)] - beta_t KL(q(z|x) || p(z)),
    beta_t = start + (target - start) min(1, t / T),

{eq}`eq-kl-warmup`, where t counts epochs or optimizer steps and T is the length of
the warm-up. `tfvae.training.KLWarmup` is the Keras callback that writes beta_t into the
model's `kl_weight` variable, which `VAE.loss_terms` multiplies the KL by.

Temperature annealing (Jang et al., 2017): the relaxed codes of a categorical VAE start soft
and harden as training proceeds, {eq}`eq-temperature-schedule`:

    tau_t = max(minimum, start exp(-rate t)),

with t the optimizer's step. `tfvae.training.TemperatureAnnealing` writes tau_t into the
model's `temperature` variable.
"""

from __future__ import annotations

import math
import numbers

from tfvae import checks
from tfvae.errors import InvalidInputError

UNITS = ("epoch", "step")


def warmup_weight(t, warmup: int, *, start: float = 0.0, target: float = 1.0) -> float:
    """beta_t of {eq}`eq-kl-warmup`: linear from `start` at t = 0 to `target` at t = `warmup`, then constant.

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


def temperature(t, rate: float, *, start: float = 1.0, minimum: float = 0.5) -> float:
    """tau_t of {eq}`eq-temperature-schedule`: start exp(-rate t), but never below `minimum`.

    Args:
      t: optimizer steps completed (>= 0).
      rate: the decay rate per step (>= 0; 0 keeps tau at `start`).
    Returns:
      The temperature, a float.
    """
    if isinstance(t, bool) or not (isinstance(t, numbers.Real) and t >= 0):
        raise InvalidInputError(f"t must be a number >= 0, got {t!r}")
    for name, value, low in (("rate", rate, 0.0), ("start", start, None), ("minimum", minimum, None)):
        if isinstance(value, bool) or not (isinstance(value, numbers.Real) and math.isfinite(value)
                                           and (value >= low if low is not None else value > 0)):
            raise InvalidInputError(f"{name} must be a finite number {'>= 0' if low is not None else '> 0'}, "
                                    f"got {value!r}")
    return max(float(minimum), float(start) * math.exp(-float(rate) * t))
