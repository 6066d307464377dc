"""Scoring disentanglement on data whose true factors of variation are known.

The score is the mutual information gap, MIG (Chen et al., 2018): for each factor v_k,
rank the latent dimensions z_j by the mutual information I(z_j; v_k) they carry about it;
the gap between the best and the second-best dimension, divided by the factor's entropy
H(v_k), is 1 when one dimension alone holds everything about the factor and no other holds
anything, and 0 when two dimensions share it equally (or none carries it). MIG is the mean
gap over factors ({eq}`eq-mig`):

    MIG = 1/K sum_k [ I(z_{j_k}; v_k) - max_{j != j_k} I(z_j; v_k) ] / H(v_k),
    j_k = argmax_j I(z_j; v_k).

Factors are discrete (the generator draws them from a grid). Latent codes are continuous;
each dimension is cut into `bins` equal-width bins, as Chen et al. do, and the mutual
information is the plug-in estimate from the joint histogram. With at least as many bins
as a factor has values, a code equal to the factor (or any affine map of it) recovers it
exactly, so MIG is 1 for the factors themselves in any order, sign or scale.
"""

from __future__ import annotations

import numpy as np

from tfvae import checks
from tfvae.errors import InvalidInputError


def discretize(codes, bins: int = 20) -> np.ndarray:
    """Cut each column of `codes` into `bins` equal-width bins. Shapes: (n, d) -> (n, d) int64 in [0, bins)."""
    bins = checks.positive_int(bins, "bins")
    codes = np.asarray(codes, np.float64)
    low, high = codes.min(axis=0), codes.max(axis=0)
    width = np.where(high > low, (high - low) / bins, 1.0)
    return np.clip(np.floor((codes - low) / width), 0, bins - 1).astype(np.int64)


def mutual_information_matrix(codes, factors, bins: int = 20) -> np.ndarray:
    """I(z_j; v_k) in nats for every latent dimension j and factor k (plug-in estimate).

    Shapes: codes (n, d) continuous, factors (n, K) integer -> (d, K).
    """
    from sklearn.metrics import mutual_info_score

    codes, factors = _check(codes, factors)
    binned = discretize(codes, bins)
    return np.array([[mutual_info_score(factors[:, k], binned[:, j]) for k in range(factors.shape[1])]
                     for j in range(codes.shape[1])])


def factor_entropies(factors) -> np.ndarray:
    """H(v_k) in nats of each discrete factor, from its empirical frequencies. Shapes: (n, K) -> (K,)."""
    factors = np.asarray(factors)
    out = []
    for column in factors.T:
        p = np.unique(column, return_counts=True)[1] / len(column)
        out.append(float(-(p * np.log(p)).sum()))
    return np.array(out)


def mutual_information_gap(codes, factors, bins: int = 20, per_factor: bool = False):
    """MIG of a representation, {eq}`eq-mig` (Chen et al., 2018).

    Args:
      codes: latent codes, e.g. the encoder means, shape (n, d) with d >= 2.
      factors: the true discrete factors of the same n images, shape (n, K) integers;
        constant factors are not allowed (their entropy is 0).
      bins: equal-width bins per latent dimension.
      per_factor: also return the gap of each factor, shape (K,).
    Returns:
      MIG, a float in [0, 1] (and the per-factor gaps).
    """
    codes, factors = _check(codes, factors)
    if codes.shape[1] < 2:
        raise InvalidInputError("MIG compares the best two latent dimensions; codes need at least 2 columns")
    mi = np.sort(mutual_information_matrix(codes, factors, bins), axis=0)
    gaps = (mi[-1] - mi[-2]) / _nonzero_entropies(factors)
    return (float(gaps.mean()), gaps) if per_factor else float(gaps.mean())


def captured_information(codes, factors, bins: int = 20) -> np.ndarray:
    """The share of each factor's entropy held by its most informative latent dimension.

    max_j I(z_j; v_k) / H(v_k), the first term of {eq}`eq-mig`: near 1 when some dimension
    determines the factor, near 0 when no dimension knows it. MIG asks whether a factor lives in
    *one* dimension; this asks whether the code holds it at all. Shapes: (n, d), (n, K) -> (K,).
    """
    codes, factors = _check(codes, factors)
    return mutual_information_matrix(codes, factors, bins).max(axis=0) / _nonzero_entropies(factors)


def _nonzero_entropies(factors) -> np.ndarray:
    entropy = factor_entropies(factors)
    if (entropy <= 0).any():
        raise InvalidInputError(f"factor column(s) {np.nonzero(entropy <= 0)[0].tolist()} are constant")
    return entropy


def _check(codes, factors):
    codes, factors = np.asarray(codes), np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors):
        raise InvalidInputError(f"codes (n, d) and factors (n, K) must be 2-D with one n, got {codes.shape} "
                                f"and {factors.shape}")
    if factors.dtype.kind not in "iu":
        raise InvalidInputError(f"factors must be discrete (integer indices), got dtype {factors.dtype}")
    if not np.isfinite(codes).all():
        raise InvalidInputError("codes contain NaN or infinite values")
    return codes.astype(np.float64), factors
