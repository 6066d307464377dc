"""Every setting tfvae reads from the environment, in one place (and no TensorFlow import).

==========================  ===========================================================
``TFVAE_QUICK=1``           quick mode: chapters and tests train on small budgets, so the
                            whole book runs under nbval in minutes (`quick_mode`, `budget`)
``TFVAE_DATA_DIR=DIR``      datasets as IDX files in ``DIR/<name>/``; MNIST's verified cache
                            goes to ``DIR/mnist`` (`data_dir`)
``TFVAE_BOOK_FALLBACK=N``   start the book's data fallback chain at dataset N, as if those
                            before it could not be had (`book_fallback`)
``TFVAE_NO_PROGRESS=1``     no progress bars while training (`progress_bars`)
``XDG_CACHE_HOME``          the cache under which MNIST is kept when ``TFVAE_DATA_DIR`` is
                            not set, as ``tfvae/mnist`` (default ``~/.cache``; `cache_home`)
==========================  ===========================================================

Quick mode is the project's own variable, not `CI`, because GitHub sets `CI` for the Pages
build too, which must use the full budgets.
"""

from __future__ import annotations

import os
from pathlib import Path

QUICK_ENV = "TFVAE_QUICK"
DATA_DIR_ENV = "TFVAE_DATA_DIR"
BOOK_FALLBACK_ENV = "TFVAE_BOOK_FALLBACK"
NO_PROGRESS_ENV = "TFVAE_NO_PROGRESS"


def quick_mode() -> bool:
    """True when `TFVAE_QUICK` is set to a true value (1, true, yes, on)."""
    return os.environ.get(QUICK_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def budget(full, quick):
    """Return `quick` in quick mode and `full` otherwise.

    Chapters state their budgets through this function, so a reader sees both
    numbers next to each other: `epochs = budget(full=30, quick=2)`.
    """
    return quick if quick_mode() else full


def use_xla() -> bool:
    """Whether a chapter compiles its training steps with XLA: in full mode, not in quick mode.

    XLA's compilation takes seconds per model; over a full build's epochs it pays for itself
    many times, but a quick run ends before it has.
    """
    return budget(full=True, quick=False)


def data_dir() -> Path | None:
    """The folder `TFVAE_DATA_DIR` names, or None when it is not set."""
    value = os.environ.get(DATA_DIR_ENV, "")
    return Path(value) if value else None


def book_fallback() -> str | None:
    """The dataset `TFVAE_BOOK_FALLBACK` names (not yet checked against the known ones), or None."""
    return os.environ.get(BOOK_FALLBACK_ENV, "").strip() or None


def progress_bars() -> bool:
    """False when `TFVAE_NO_PROGRESS=1` asks training to print no progress bars."""
    return os.environ.get(NO_PROGRESS_ENV) != "1"


def cache_home() -> Path:
    """``$XDG_CACHE_HOME``, else ``~/.cache``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
