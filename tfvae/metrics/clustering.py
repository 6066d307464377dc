"""Scoring an unsupervised clustering against known classes, and the k-means baseline.

A clustering names its clusters arbitrarily: cluster 3 may hold the images of class 7.
`cluster_accuracy` therefore first matches clusters to classes one-to-one so that the
matched pairs cover the most images (an assignment problem, solved exactly by the
Hungarian method, Kuhn 1955), then counts the images whose cluster is matched to their
class. `nmi` is the normalized mutual information between clusters and classes, which
needs no matching at all. Both are 1 for a perfect clustering, under any renaming.
"""

from __future__ import annotations

import numpy as np

from tfvae import checks
from tfvae.errors import InvalidInputError


def _labels(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_pred.ndim != 1 or len(y_true) != len(y_pred):
        raise InvalidInputError(f"y_true and y_pred must be 1-D arrays of one length, got shapes "
                                f"{y_true.shape} and {y_pred.shape}")
    if len(y_true) == 0:
        raise InvalidInputError("y_true and y_pred are empty")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.dtype.kind not in "iu" or y.min() < 0:
            raise InvalidInputError(f"{name} must hold integer labels >= 0, got dtype {y.dtype}")
    return y_true.astype(np.int64), y_pred.astype(np.int64)


def contingency(y_true, y_pred) -> np.ndarray:
    """counts[k, c] = number of items in cluster k whose class is c.

    Shapes: (n,), (n,) -> (max(y_pred) + 1, max(y_true) + 1).
    """
    y_true, y_pred = _labels(y_true, y_pred)
    counts = np.zeros((y_pred.max() + 1, y_true.max() + 1), np.int64)
    np.add.at(counts, (y_pred, y_true), 1)
    return counts


def cluster_accuracy(y_true, y_pred) -> float:
    """Unsupervised clustering accuracy: max over one-to-one maps m of mean[m(y_pred) == y_true].

    The best map is the maximum-weight matching of the contingency table, found by the
    Hungarian method (`scipy.optimize.linear_sum_assignment`, Kuhn 1955). With more
    clusters than classes, unmatched clusters count as wrong (the strict, one-to-one
    convention; some papers map several clusters to one class, which scores higher).

    Shapes: (n,), (n,) integer labels -> float in [0, 1].
    """
    from scipy.optimize import linear_sum_assignment

    counts = contingency(y_true, y_pred)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / counts.sum())


def majority_label_accuracy(y_true, y_pred) -> float:
    """Accuracy when every cluster is named after the class most of its items belong to.

    Several clusters may take the same class name, so with more clusters than classes this
    scores at least as high as `cluster_accuracy` (it is the measure Dilokthanakul et al.
    (2016) report for K = 16 clusters on MNIST). Shapes: (n,), (n,) integer labels -> float in [0, 1].
    """
    counts = contingency(y_true, y_pred)
    return float(counts.max(axis=1).sum() / counts.sum())


def cluster_to_class(y_true, y_pred) -> dict:
    """The one-to-one map {cluster: class} that `cluster_accuracy` uses."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(contingency(y_true, y_pred), maximize=True)
    return {int(r): int(c) for r, c in zip(rows, cols)}


def nmi(y_true, y_pred) -> float:
    """Normalized mutual information I(Y; C) / mean(H(Y), H(C)) (arithmetic mean), in [0, 1].

    Shapes: (n,), (n,) integer labels -> float.
    """
    from sklearn.metrics import normalized_mutual_info_score

    y_true, y_pred = _labels(y_true, y_pred)
    return float(normalized_mutual_info_score(y_true, y_pred, average_method="arithmetic"))


def effective_clusters(y_pred, k: int) -> float:
    """How many of `k` clusters a clustering really uses: exp of the entropy of the cluster shares.

    k when every cluster holds the same share, 1 when one cluster holds everything. With q(y) the
    shares and p(y) uniform, KL(q(y) || p(y)) = log k - H(q(y)), so this is k exp(-KL(q(y) || p(y))):
    the quantity the GMVAE's marginal cluster term (`tfvae.models.gmvae`) keeps near k.
    Shapes: (n,) integer cluster labels in [0, k) -> float in [1, k].
    """
    k = checks.positive_int(k, "k")
    _, y_pred = _labels(y_pred, y_pred)
    if y_pred.max() >= k:
        raise InvalidInputError(f"y_pred holds cluster {int(y_pred.max())}, outside [0, {k})")
    shares = np.bincount(y_pred, minlength=k) / len(y_pred)
    shares = shares[shares > 0]
    return float(np.exp(-(shares * np.log(shares)).sum()))


def effective_clusters_of_posteriors(q_y_given_x) -> float:
    """The effective number of clusters of a soft clustering: exp H(q(y)), q(y) = E_x q(y|x).

    The cluster shares are the average of each image's cluster probabilities, the q(y) of
    the GMVAE's marginal cluster term, rather than the counts of argmax assignments that
    `effective_clusters` takes; with p(y) uniform over the K clusters it is
    K exp(-KL(q(y) || p(y))). Shapes: (n, K) rows of probabilities -> float in [1, K].
    """
    q = np.asarray(q_y_given_x, np.float64)
    if q.ndim != 2 or len(q) == 0 or not np.isfinite(q).all() or (q < 0).any():
        raise InvalidInputError(f"q_y_given_x must be a non-empty (n, K) array of probabilities, got shape {q.shape}")
    if not np.allclose(q.sum(axis=1), 1.0, atol=1e-4):
        raise InvalidInputError("each row of q_y_given_x must sum to 1")
    shares = q.mean(axis=0)
    shares = shares[shares > 0]
    return float(np.exp(-(shares * np.log(shares)).sum()))


def kmeans_baseline(features, k: int, seed: int = 0, n_init: int = 10) -> np.ndarray:
    """Cluster feature vectors with k-means (Lloyd's algorithm, k-means++ starts, best of `n_init`).

    The baseline the book's mixture models are compared with: on raw pixels, and on a
    VAE's latent means. Shapes: (n, ...) -> (n,) cluster indices in [0, k).
    """
    from sklearn.cluster import KMeans

    k = checks.positive_int(k, "k")
    features = np.asarray(features, np.float64)
    features = features.reshape(len(features), -1)
    if len(features) < k:
        raise InvalidInputError(f"k-means with k={k} needs at least {k} points, got {len(features)}")
    if not np.isfinite(features).all():
        raise InvalidInputError("features contain NaN or infinite values")
    return KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(features).astype(np.int64)
