"""Published results the book sets its own numbers beside, and the one rule for doing so.

A published number is shown next to a result only when that result was measured on the
same data with the same binarization: a page that fell back to Fashion-MNIST or the 8x8
digits, or that binarized differently, gets a sentence saying why there is no comparison
instead of a number that invites one. Every entry names its source and its setting, so
the page can say how the setting differs (networks, training length) even when the data
agree.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class PublishedResult:
    """One published number: `value` in `unit`, measured on `dataset` with `binarization`.

    `binarization` None marks a number about the labels rather than the pixels' density, a test
    error: it compares on the same test images however each model binarized its inputs.
    """

    value: float
    unit: str
    source: str
    dataset: str
    binarization: str | None
    setting: str


_BURDA_SETTING = ("test NLL with k = 5000; one stochastic layer of 50 units, two deterministic layers of 200 tanh "
                  "units in each network, 3,280 passes over the data with Adam")

# Burda, Grosse and Salakhutdinov (2016), Table 1, MNIST, one stochastic layer; the models are
# named by their training objective and its k.
BURDA_2016 = {
    "VAE": PublishedResult(86.76, "nats", "Burda et al. (2016), Table 1", "mnist", "dynamic", _BURDA_SETTING),
    "IWAE, k = 5": PublishedResult(85.54, "nats", "Burda et al. (2016), Table 1", "mnist", "dynamic", _BURDA_SETTING),
    "IWAE, k = 50": PublishedResult(84.78, "nats", "Burda et al. (2016), Table 1", "mnist", "dynamic", _BURDA_SETTING),
}


_KINGMA_2014_SETTING = ("test error with 100 labelled MNIST images (10 per class), the other training images "
                        "unlabelled; MLPs with one hidden layer of 500 softplus units, a 50-dimensional z")

# Kingma, Rezende, Mohamed and Welling (2014), Table 1, 100 labels: the semi-supervised M2 alone,
# and M2 trained on the codes of a VAE (M1) instead of the pixels.
KINGMA_2014 = {
    "M2": PublishedResult(11.97, "%", "Kingma et al. (2014), Table 1", "mnist", None, _KINGMA_2014_SETTING),
    "M1+M2": PublishedResult(3.33, "%", "Kingma et al. (2014), Table 1", "mnist", None, _KINGMA_2014_SETTING),
}


def comparable(result: PublishedResult, dataset, binarization: str) -> bool:
    """True when a result measured on `dataset` (a tfvae.data.ImageDataset) with `binarization`
    may stand beside `result`: the same data, not a substitute, and the same binarization
    (any, for a result about labels: `PublishedResult.binarization` None)."""
    return (dataset.name == result.dataset and dataset.substitute_for is None
            and result.binarization in (None, binarization))


def why_not_comparable(result: PublishedResult, dataset, binarization: str) -> str:
    """The reason `comparable` is False, as a sentence for the page (empty when it is True)."""
    if dataset.name != result.dataset or dataset.substitute_for is not None:
        return (f"this page ran on {dataset.display_name}, and {result.source} measured on "
                f"{result.dataset.upper() if result.dataset == 'mnist' else result.dataset}: no comparison")
    if result.binarization is not None and binarization != result.binarization:
        return (f"this page binarized {binarization}, {result.source} {result.binarization}: the numbers "
                "measure different data, so no comparison")
    return ""
