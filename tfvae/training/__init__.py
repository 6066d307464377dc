"""Training: the one loop every image model trains with, and the callbacks that run beside it.

* `tfvae.training.loop`: `fit` (AEVB over minibatches, compiled, checkpointed, resumable),
  `set_seed`, `use_mixed_precision`, `learning_rate_schedule`, `xla_pays`.
* `tfvae.training.callbacks`: `KLWarmup`, `TemperatureAnnealing`, `BoundCurve`, and the loop's own guard
  and progress bar.
"""

from tfvae.training.callbacks import BoundCurve, KLWarmup, TemperatureAnnealing
from tfvae.training.loop import (COSINE_FINAL_FRACTION, LR_SCHEDULES, OPTIMIZER_CLASSES, OPTIMIZERS, fit,
                                 learning_rate_schedule, set_seed, use_mixed_precision, xla_pays)

__all__ = ["COSINE_FINAL_FRACTION", "LR_SCHEDULES", "OPTIMIZERS", "OPTIMIZER_CLASSES", "BoundCurve", "KLWarmup",
           "TemperatureAnnealing", "fit", "learning_rate_schedule", "set_seed", "use_mixed_precision", "xla_pays"]
