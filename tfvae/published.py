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
    """One published number: `value` in `unit`, measured on `dataset` with `binarization`."""

    value: float
    unit: str
    source: str
    dataset: str
    binarization: str
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


def comparable(result: PublishedResult, dataset, binarization: str) -> bool:
    """True when a result measured on `dataset` (a tfvae.data.ImageDataset) with `binarization`
    may stand beside `result`: the same data, not a substitute, and the same binarization."""
    return (dataset.name == result.dataset and dataset.substitute_for is None
            and binarization == result.binarization)


def why_not_comparable(result: PublishedResult, dataset, binarization: str) -> str:
    """The reason `comparable` is False, as a sentence for the page (empty when it is True)."""
    if dataset.name != result.dataset or dataset.substitute_for is not None:
        return (f"this page ran on {dataset.display_name}, and {result.source} measured on "
                f"{result.dataset.upper() if result.dataset == 'mnist' else result.dataset}: no comparison")
    if binarization != result.binarization:
        return (f"this page binarized {binarization}, {result.source} {result.binarization}: the numbers "
                "measure different data, so no comparison")
    return ""
