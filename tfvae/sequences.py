"""Synthetic sequences for the sequence models (`tfvae.models.vrnn`): processes whose structure is known.

Not real data: each generator is a few lines of NumPy whose hidden structure is exactly
what a chapter's comparison is about.

* `regime_sines`: sine waves whose amplitude switches between two levels at random times.
  The next value depends on a hidden regime that persists, which a recurrent state can track.
* `coin_flip_walk`: an autoregressive walk driven by fair coin flips,

      x_t = a x_{t-1} + j s_t + sigma eps_t,   s_t = +1 or -1 with equal odds,   eps_t ~ N(0, 1),   x_0 = 0.

  Given the past, the next value is a two-peaked mixture, 1/2 N(a x_{t-1} + j, sigma^2) +
  1/2 N(a x_{t-1} - j, sigma^2): no history predicts the coin. A model whose next-step
  distribution is one Gaussian must cover both peaks with one bell; a latent variable per
  step can carry the coin. `coin_flip_log_likelihood` is the process's exact log p(x_1..T).
* `dataset(process, ...)`: three independent splits as a `tfvae.data.SequenceDataset`.
"""

from __future__ import annotations

import math

import numpy as np

from tfvae import checks, data

# The coin-flip walk's constants: decay a, jump j, noise sigma.
COIN_FLIP_DECAY, COIN_FLIP_JUMP, COIN_FLIP_NOISE = 0.8, 0.5, 0.05


def regime_sines(n: int, steps: int = 40, *, seed: int = 0, noise: float = 0.05) -> np.ndarray:
    """Sine waves with a hidden, persistent random regime.

    Each sequence is a sine wave whose amplitude jumps at random times between 0.3 and 1
    (a two-state Markov chain, switch probability 0.05 per step), with random frequency
    and phase and small Gaussian noise: the next value depends on the hidden past.

    Shapes: -> (n, steps, 1) float32. Deterministic for a seed.
    """
    n, steps = checks.positive_int(n, "n"), checks.positive_int(steps, "steps")
    rng = np.random.default_rng([seed, 11])
    frequency = rng.uniform(0.15, 0.35, size=(n, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
    switches = rng.random((n, steps)) < 0.05
    state = (rng.random((n, 1)) < 0.5) ^ (np.cumsum(switches, axis=1) % 2 == 1)
    amplitude = np.where(state, 1.0, 0.3)
    t = np.arange(steps)[None, :]
    x = amplitude * np.sin(frequency * t + phase) + noise * rng.normal(size=(n, steps))
    return x[..., None].astype(np.float32)


def coin_flip_walk(n: int, steps: int = 40, *, seed: int = 0) -> np.ndarray:
    """The coin-flip walk of the module docstring. Shapes: -> (n, steps, 1) float32. Deterministic for a seed."""
    n, steps = checks.positive_int(n, "n"), checks.positive_int(steps, "steps")
    rng = np.random.default_rng([seed, 23])
    increments = COIN_FLIP_JUMP * rng.choice([-1.0, 1.0], size=(n, steps)) + COIN_FLIP_NOISE * rng.normal(size=(n, steps))
    x = np.zeros((n, steps))
    previous = np.zeros(n)
    for t in range(steps):
        previous = COIN_FLIP_DECAY * previous + increments[:, t]
        x[:, t] = previous
    return x[..., None].astype(np.float32)


def coin_flip_log_likelihood(x) -> np.ndarray:
    """The coin-flip walk's exact log p(x_1..T) in nats, a sum of two-component mixture densities.

    Shapes: (n, T, 1) -> (n,), computed in float64.
    """
    x = np.asarray(x, np.float64)
    if x.ndim != 3 or x.shape[2] != 1:
        raise checks.InvalidInputError(f"coin-flip sequences must have shape (n, T, 1), got {x.shape}")
    x = x[..., 0]
    previous = np.concatenate([np.zeros((len(x), 1)), x[:, :-1]], axis=1)
    centred = x - COIN_FLIP_DECAY * previous
    def log_normal(u):  # log N(u; 0, sigma^2)
        return -0.5 * (u / COIN_FLIP_NOISE) ** 2 - math.log(COIN_FLIP_NOISE * math.sqrt(2 * math.pi))

    per_step = np.logaddexp(log_normal(centred - COIN_FLIP_JUMP), log_normal(centred + COIN_FLIP_JUMP)) - math.log(2)
    return per_step.sum(axis=1)


PROCESSES = {"regime_sines": regime_sines, "coin_flip_walk": coin_flip_walk}
DISPLAY_NAMES = {"regime_sines": "synthetic regime-switching sines", "coin_flip_walk": "synthetic coin-flip walk"}


def dataset(process: str, n_train: int = 1000, n_validation: int = 200, n_test: int = 500, steps: int = 40, *,
            seed: int = 0) -> data.SequenceDataset:
    """Sequences of a process (a key of `PROCESSES`) in three independent splits, drawn with
    seeds 3 seed, 3 seed + 1 and 3 seed + 2."""
    generate = PROCESSES[checks.one_of(process, PROCESSES, "sequence process")]
    arrays = [generate(n, steps, seed=3 * seed + offset) for offset, n in enumerate((n_train, n_validation, n_test))]
    return data.sequence_dataset(*arrays, name=DISPLAY_NAMES[process],
                                 source=f"tfvae.sequences.dataset({process!r}, steps={steps}, seed={seed})")
