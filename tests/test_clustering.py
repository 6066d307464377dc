"""Clustering accuracy (Hungarian matching), NMI and the k-means baseline."""

import numpy as np
import pytest

from tfvae.metrics import clustering
from tfvae.errors import InvalidInputError


def test_accuracy_is_one_for_any_renaming_of_the_classes():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, size=500)
    for _ in range(5):
        renamed = rng.permutation(10)[y]
        assert clustering.cluster_accuracy(y, renamed) == 1.0
        assert clustering.nmi(y, renamed) == pytest.approx(1.0)


def test_accuracy_matches_a_hand_solved_confusion_table():
    # Clusters 0, 1, 2 against classes 0, 1, 2 (rows: cluster, columns: class):
    #   cluster 0: 2 of class 0, 5 of class 1          -> best matched to class 1 (5)
    #   cluster 1: 6 of class 0                         -> class 0 (6)
    #   cluster 2: 3 of class 1, 4 of class 2           -> class 2 (4)
    # The greedy choice "cluster 2 -> class 1" would block the better total 5 + 6 + 4 = 15 of 20.
    table = {(0, 0): 2, (0, 1): 5, (1, 0): 6, (2, 1): 3, (2, 2): 4}
    y_pred = np.concatenate([np.full(n, k) for (k, c), n in table.items()])
    y_true = np.concatenate([np.full(n, c) for (k, c), n in table.items()])
    assert clustering.cluster_accuracy(y_true, y_pred) == pytest.approx(15 / 20)
    assert clustering.cluster_to_class(y_true, y_pred) == {0: 1, 1: 0, 2: 2}


def test_accuracy_is_one_to_one_so_merging_classes_loses():
    # One cluster holding two equal classes can be matched to one of them only.
    y_true = np.array([0, 0, 1, 1])
    assert clustering.cluster_accuracy(y_true, np.zeros(4, np.int64)) == 0.5


def test_extra_clusters_count_as_wrong():
    y_true = np.array([0, 0, 0, 1, 1, 1])
    y_pred = np.array([0, 0, 2, 1, 1, 3])  # four clusters, two classes: two images unmatched
    assert clustering.cluster_accuracy(y_true, y_pred) == pytest.approx(4 / 6)


def test_nmi_is_near_zero_for_independent_labels():
    rng = np.random.default_rng(1)
    y, c = rng.integers(0, 10, 20000), rng.integers(0, 10, 20000)
    # Finite-sample bias of the plug-in MI is about (10-1)^2 / (2 n) nats = 0.002; 0.01 leaves room.
    assert clustering.nmi(y, c) < 0.01


def test_kmeans_recovers_well_separated_blobs():
    rng = np.random.default_rng(2)
    centers = np.array([[0, 0], [10, 0], [0, 10]], float)
    y = rng.integers(0, 3, 300)
    x = centers[y] + rng.normal(size=(300, 2))
    pred = clustering.kmeans_baseline(x, 3, seed=0)
    assert pred.shape == (300,)
    assert clustering.cluster_accuracy(y, pred) == 1.0


def test_kmeans_is_repeatable_for_a_seed():
    x = np.random.default_rng(3).normal(size=(200, 5))
    assert np.array_equal(clustering.kmeans_baseline(x, 4, seed=7), clustering.kmeans_baseline(x, 4, seed=7))


def test_effective_clusters_counts_equal_shares_and_is_k_exp_minus_the_kl_to_uniform():
    assert clustering.effective_clusters(np.repeat(np.arange(4), 25), 10) == pytest.approx(4.0)
    assert clustering.effective_clusters(np.zeros(50, int), 10) == pytest.approx(1.0)
    y = np.random.default_rng(4).choice(10, size=2000, p=np.linspace(1, 3, 10) / 20)
    q = np.bincount(y, minlength=10) / len(y)
    kl_to_uniform = float((q * np.log(q * 10)).sum())
    assert clustering.effective_clusters(y, 10) == pytest.approx(10 * np.exp(-kl_to_uniform))
    with pytest.raises(InvalidInputError, match="outside"):
        clustering.effective_clusters(np.array([0, 3]), 3)


def test_bad_labels_are_rejected_with_a_clear_error():
    with pytest.raises(InvalidInputError, match="one length"):
        clustering.cluster_accuracy(np.zeros(3, int), np.zeros(4, int))
    with pytest.raises(InvalidInputError, match="integer labels"):
        clustering.cluster_accuracy(np.zeros(3), np.zeros(3))
    with pytest.raises(InvalidInputError, match="at least"):
        clustering.kmeans_baseline(np.zeros((2, 3)), 5)


def test_soft_effective_clusters_average_the_probabilities_before_the_entropy():
    confident = np.eye(4)[np.repeat(np.arange(4), 5)]  # 20 images, each certain of its cluster
    assert clustering.effective_clusters_of_posteriors(confident) == pytest.approx(4.0)
    assert clustering.effective_clusters_of_posteriors(confident) == pytest.approx(
        clustering.effective_clusters(np.repeat(np.arange(4), 5), 4))
    # Every image unsure between all K: the hard argmax counts one cluster, the shares are uniform.
    unsure = np.full((20, 4), 0.25) + np.array([1e-3, 0, 0, -1e-3])
    assert clustering.effective_clusters_of_posteriors(unsure) == pytest.approx(4.0, rel=1e-5)
    assert clustering.effective_clusters(unsure.argmax(axis=1), 4) == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [np.ones((3, 2)), np.full((2, 2), np.nan), np.zeros((0, 3)), np.array([0.5, 0.5])])
def test_soft_effective_clusters_refuse_what_is_not_probabilities(bad):
    with pytest.raises(InvalidInputError):
        clustering.effective_clusters_of_posteriors(bad)


def test_majority_label_accuracy_names_each_cluster_after_its_most_common_class():
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 1])
    y_pred = np.array([0, 0, 1, 1, 1, 2, 2, 3, 3, 3])
    # cluster 0 -> class 0 (2 of 2), 1 -> class 1 (2 of 3), 2 -> class 2 (2 of 2), 3 -> class 2 (2 of 3).
    assert clustering.majority_label_accuracy(y_true, y_pred) == pytest.approx(8 / 10)
    # Two clusters named after class 2 count in full; the one-to-one matching counts only one of them.
    assert clustering.cluster_accuracy(y_true, y_pred) == pytest.approx(6 / 10)


def test_majority_label_accuracy_equals_the_matched_accuracy_for_a_renamed_perfect_clustering():
    y_true = np.repeat(np.arange(4), 5)
    assert clustering.majority_label_accuracy(y_true, (y_true + 1) % 4) == 1.0
    with pytest.raises(InvalidInputError):
        clustering.majority_label_accuracy(y_true, y_true[:-1])
