"""Reference runs: weights trained once by a recorded `tfvae train` command, shipped with tfvae.

Some findings need more training than a page's build budget. For those, a page evaluates
weights trained beforehand, and computes every number it shows from them. Each reference run
is a folder in `tfvae/reference_runs/`, made from a `tfvae train` run folder by `export`:

* `run.json`: the record `tfvae train` wrote: the command(s), every setting and the seed, the
  tfvae and TensorFlow versions, the sha256 of each split's images and labels, the wall time;
* `history.json`: the per-epoch training history (loss, ELBO, KL, validation ELBO, ...);
* `model/`: `config.json` and `model.weights.h5`, the weights without the optimizer (no pickle).

A page evaluates the weights with `evaluate(dataset, ...)`, which first checks `holds_out(dataset)`:
the weights' test numbers mean something only on the test images the run held out, compared
by their sha256, so on any other data it evaluates nothing.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import shutil
from pathlib import Path

from tfvae import checks, evaluation, serialization
from tfvae.files import MODEL_DIR, RUN_FILE
from tfvae.errors import CheckpointError

ROOT = Path(__file__).with_name("reference_runs")
HISTORY_FILE = "history.json"


def names() -> tuple[str, ...]:
    """The reference runs shipped with this version of tfvae."""
    return tuple(sorted(p.name for p in ROOT.iterdir() if (p / RUN_FILE).exists())) if ROOT.is_dir() else ()


@dataclasses.dataclass(frozen=True)
class ReferenceRun:
    """One reference run: its `record` (run.json), its training `history`, and its weights in `folder/model`."""

    name: str
    folder: Path
    record: dict
    history: dict

    @property
    def command(self) -> str:
        """The `tfvae train` command that trained it (the last one, when a run was resumed)."""
        return self.record["commands"][-1]

    @property
    def epochs(self) -> int:
        return int(self.record["epochs"])

    @property
    def wall_seconds(self) -> float:
        return float(self.record["wall_seconds"])

    def model(self):
        """The trained model, loaded from `model/` (weights + JSON config)."""
        return serialization.load(self.folder / MODEL_DIR)

    def holds_out(self, dataset, split: str = "test") -> bool:
        """True when `dataset`'s `split` is, image for image and label for label, the run's own."""
        checks.one_of(split, ("validation", "test"), "split")
        digests = dataset.sha256()
        return all(self.record["data_sha256"].get(f"{split}.{part}") == digests[f"{split}.{part}"]
                   for part in ("x", "y"))

    def evaluate(self, dataset, *, k: int = 5000, max_images: int | None = None) -> dict | None:
        """`tfvae.evaluation.evaluate` of the weights on `dataset`'s test images, binarized as in training.

        None when `dataset`'s test split is not the one the run held out (`holds_out`): on
        other data, or a substitute for the run's, its numbers would measure nothing.
        """
        if not self.holds_out(dataset):
            return None
        return evaluation.evaluate(self.model(), dataset, split="test", binarization=self.record["binarization"],
                                   k=k, max_images=max_images)


def command_without(command: str, *options: str) -> str:
    """`command` with each of `options` and the value that follows it left out.

    Two runs' commands, less what is meant to differ between them (say `--objective` and the
    `--out` folder), are the same string exactly when they share every other setting.
    """
    words = shlex.split(command)
    kept = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in options:
            skip = True
        else:
            kept.append(word)
    return shlex.join(kept)


def load(name: str) -> ReferenceRun:
    """The reference run called `name` (one of `names()`)."""
    checks.one_of(name, names(), "reference run")
    folder = ROOT / name
    try:
        record = json.loads((folder / RUN_FILE).read_text())
        history = json.loads((folder / HISTORY_FILE).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"the reference run {name} in {folder} is incomplete or corrupt: {err}") from None
    return ReferenceRun(name, folder, record, history)


def export(run_dir, destination) -> Path:
    """Copy what a reference run keeps from a finished `tfvae train` folder: run.json, the history, model/.

    The checkpoints (which also hold the optimizer's state) stay behind.
    """
    run_dir, destination = Path(run_dir), Path(destination)
    if not (run_dir / MODEL_DIR / serialization.CONFIG_FILE).exists():
        raise CheckpointError(f"{run_dir} holds no finished run (no {MODEL_DIR}/); finish it with --resume first")
    if destination.exists():
        raise CheckpointError(f"{destination} already exists; choose a new folder for the reference run")
    checkpoint = serialization.latest_checkpoint(run_dir / serialization.CHECKPOINTS_DIR)
    if checkpoint is None:
        raise CheckpointError(f"{run_dir} has no checkpoint holding the training history")
    history = json.loads((checkpoint / "state.json").read_text())["history"]
    destination.mkdir(parents=True)
    shutil.copy2(run_dir / RUN_FILE, destination / RUN_FILE)
    (destination / HISTORY_FILE).write_text(json.dumps(history, indent=1))
    shutil.copytree(run_dir / MODEL_DIR, destination / MODEL_DIR)
    return destination
