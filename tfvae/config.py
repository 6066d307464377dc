"""One place for run-time configuration: the quick mode that shrinks training budgets.

`TFVAE_QUICK=1` in the environment makes every chapter and test train on small
budgets, so the whole book runs under nbval in minutes. It is the project's own
variable, not `CI`, because GitHub sets `CI` for the Pages build too, which must
use the full budgets.
"""

import os

QUICK_ENV = "TFVAE_QUICK"


def quick_mode() -> bool:
    """True when `TFVAE_QUICK` is set to a true value (1, true, yes, on)."""
    return os.environ.get(QUICK_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def budget(full, quick):
    """Return `quick` in quick mode and `full` otherwise.

    Chapters state their budgets through this function, so a reader sees both
    numbers next to each other: `epochs = budget(full=30, quick=2)`.
    """
    return quick if quick_mode() else full
