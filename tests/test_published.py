"""Published numbers stand beside a result only when it was measured on the same data with the
same binarization (tfvae.published)."""

import dataclasses

import numpy as np
import pytest

from tfvae import data, published


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


def as_if(dataset, name, substitute_for=None):
    """The same arrays labelled as another dataset: only the label matters to the rule."""
    return dataclasses.replace(dataset, name=name, substitute_for=substitute_for)


REFERENCE = published.BURDA_2016["VAE"]


def test_mnist_with_the_papers_binarization_is_comparable(digits):
    mnist = as_if(digits, "mnist")
    assert published.comparable(REFERENCE, mnist, "dynamic")
    assert published.why_not_comparable(REFERENCE, mnist, "dynamic") == ""


@pytest.mark.parametrize("name, substitute_for, binarization, reason", [
    ("fashion_mnist", "mnist", "dynamic", "ran on Fashion-MNIST"),
    ("digits", "mnist", "dynamic", "ran on scikit-learn digits"),
    ("digits", None, "dynamic", "ran on scikit-learn digits"),
    ("mnist", None, "static", "binarized static"),
    ("mnist", None, "none", "binarized none"),
])
def test_other_data_or_another_binarization_is_not_compared_and_the_page_says_why(
        digits, name, substitute_for, binarization, reason):
    dataset = as_if(digits, name, substitute_for)
    assert not published.comparable(REFERENCE, dataset, binarization)
    assert reason in published.why_not_comparable(REFERENCE, dataset, binarization)


def test_every_published_number_names_its_source_and_setting():
    for name, result in published.BURDA_2016.items():
        assert result.source and result.setting and result.unit == "nats", name
        assert np.isfinite(result.value) and result.dataset == "mnist", name
    for name, result in published.KINGMA_2014.items():
        assert result.source and result.setting and result.unit == "%", name
        assert 0 < result.value < 100 and result.dataset == "mnist", name


def test_a_test_error_compares_under_any_binarization_but_only_on_mnist(digits):
    error = published.KINGMA_2014["M2"]
    for binarization in ("dynamic", "static", "none"):
        assert published.comparable(error, as_if(digits, "mnist"), binarization)
    assert not published.comparable(error, as_if(digits, "fashion_mnist", "mnist"), "dynamic")
    assert "ran on scikit-learn digits" in published.why_not_comparable(error, digits, "dynamic")
