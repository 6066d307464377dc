"""Saving and loading models as weights (HDF5) plus a JSON config: no pickle, so opening a
downloaded model cannot run code.

A saved model is a folder with `config.json` and `model.weights.h5`. A training
checkpoint is the same folder plus `optimizer.npz` and `state.json`, so any checkpoint
also loads as a model. Folders are written under a temporary name and renamed into
place, so a reader never sees a half-written one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

from tfvae import files, models
from tfvae.files import CHECKPOINTS_DIR, MODEL_DIR  # re-exported: a run folder's layout
from tfvae.errors import CheckpointError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
OPTIMIZER_FILE = "optimizer.npz"  # a checkpoint's optimizer state, one array per variable name
LATEST_FILE = "latest"
FORMAT_VERSION = 1


def save(model, folder) -> Path:
    """Write `model` to `folder` (config.json + model.weights.h5), atomically. Returns the folder."""
    folder = Path(folder)
    with _staging(folder) as tmp:
        write_model_files(model, tmp)
    return folder


def write_model_files(model, folder: Path):
    """Write config.json and model.weights.h5 into an existing folder (not atomic on its own)."""
    (folder / CONFIG_FILE).write_text(json.dumps(
        {"format_version": FORMAT_VERSION, "model": model.config.to_dict()}, indent=2))
    _model_without_optimizer(model).save_weights(str(folder / WEIGHTS_FILE))


def _model_without_optimizer(model):
    """A copy of `model` with the same weights and no optimizer.

    Keras writes a compiled model's optimizer slots into the weights file beside its weights,
    which for Adam triples the file (784-500-20: 9.8 MB instead of 3.3 MB). A checkpoint keeps
    the optimizer's state in optimizer.npz; the weights file holds the model alone.
    """
    if getattr(model, "optimizer", None) is None:
        return model
    bare = models.build(model.config)
    if len(bare.weights) != len(model.weights):
        raise CheckpointError(f"cannot save a {type(model).__name__} whose variables differ from its config's model")
    for target, source in zip(bare.weights, model.weights):
        if target.shape != source.shape:
            raise CheckpointError(f"cannot save {source.path}: its shape {source.shape} differs from the config's model")
        target.assign(source)
    return bare


def load(path):
    """Load a model saved by `save`, a checkpoint folder, or a training run's output folder
    (whose latest checkpoint is used).

    Raises:
      CheckpointError when the folder, its config or its weights are missing or unreadable,
      or when the weights do not fit the config.
    """
    folder = resolve(path)
    config = read_config(folder)
    model = models.build(config)
    load_weights(model, folder)
    return model


def resolve(path) -> Path:
    """The folder holding a model: `path` itself, or the latest checkpoint of a run folder."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no saved model at {path}: the folder does not exist")
    if (path / CONFIG_FILE).exists():
        return path
    for folder in (path / MODEL_DIR, latest_checkpoint(path / CHECKPOINTS_DIR)):
        if folder is not None and (folder / CONFIG_FILE).exists():
            return folder
    raise CheckpointError(f"{path} holds no {CONFIG_FILE}, no model/ folder and no checkpoints")


def read_config(folder: Path) -> models.ModelConfig:
    try:
        saved = json.loads((Path(folder) / CONFIG_FILE).read_text())
        return models.ModelConfig.from_dict(saved["model"])
    except FileNotFoundError:
        raise CheckpointError(f"{folder} has no {CONFIG_FILE}") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{Path(folder) / CONFIG_FILE} is corrupt or not a tfvae config: {err}") from None


def load_weights(model, folder: Path):
    weights = Path(folder) / WEIGHTS_FILE
    if not weights.exists():
        raise CheckpointError(f"{folder} has no {WEIGHTS_FILE}")
    try:
        with warnings.catch_warnings():
            # Files written before the weights were saved without the optimizer also hold its slots;
            # a checkpoint restores those from optimizer.npz.
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            model.load_weights(str(weights))
    except Exception as err:  # h5py and Keras raise many types for a bad file
        raise CheckpointError(f"{weights} could not be loaded (corrupt, or written by another model): "
                              f"{str(err).splitlines()[0][:200]}") from None


# --- training checkpoints ----------------------------------------------------

def write_checkpoint(model, run_dir, epoch: int, state: dict, keep: int = 2) -> Path:
    """Write checkpoint `epoch` under run_dir/checkpoints atomically, then point `latest` at it.

    A run killed at any moment leaves `latest` naming a complete checkpoint.
    """
    root = Path(run_dir) / CHECKPOINTS_DIR
    root.mkdir(parents=True, exist_ok=True)
    folder = root / f"epoch-{epoch:05d}"
    with _staging(folder) as tmp:
        write_model_files(model, tmp)
        # Each value under its variable's name ("mlp_decoder_hidden_kernel_momentum"; the path
        # would add the optimizer's own name, "adam_1" for the second one in a process), so that
        # restoring matches them by name, whatever order the optimizer lists them in.
        optimizer_values = {v.name: np.asarray(v.numpy()) for v in model.optimizer.variables}
        if len(optimizer_values) != len(model.optimizer.variables):
            raise CheckpointError("cannot write a checkpoint: two optimizer variables share a name")
        np.savez(tmp / OPTIMIZER_FILE, **optimizer_values)
        (tmp / "state.json").write_text(json.dumps(
            dict(state, epoch=epoch, seed_counter=int(model.seed_counter.numpy())), indent=2))
    files.atomic_write_text(root / LATEST_FILE, folder.name)
    for old in sorted(root.glob("epoch-*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return folder


def latest_checkpoint(checkpoints_dir) -> Path | None:
    """The checkpoint `latest` names, or None when there is none."""
    pointer = Path(checkpoints_dir) / LATEST_FILE
    if not pointer.exists():
        return None
    folder = Path(checkpoints_dir) / pointer.read_text().strip()
    if not (folder / "state.json").exists():
        raise CheckpointError(f"{pointer} names {folder.name}, which is missing or incomplete")
    return folder


def restore_checkpoint(model, folder: Path) -> dict:
    """Load weights, optimizer state and the seed counter from a checkpoint; return its state dict."""
    saved = read_config(folder)
    if saved != model.config:
        raise CheckpointError(f"the checkpoint {folder} was written by a different model: "
                              f"{_config_difference(saved, model.config)}")
    load_weights(model, folder)
    try:
        state = json.loads((folder / "state.json").read_text())
        with np.load(folder / OPTIMIZER_FILE, allow_pickle=False) as values:
            saved_values = {name: values[name] for name in values.files}
    except Exception as err:
        raise CheckpointError(f"the checkpoint {folder} is corrupt: {err}") from None
    with model.distribute_strategy.scope():
        model.optimizer.build(model.trainable_variables)
    variables = {v.name: v for v in model.optimizer.variables}
    if saved_values.keys() != variables.keys():
        missing, foreign = sorted(variables.keys() - saved_values), sorted(saved_values.keys() - variables)
        raise CheckpointError(f"the checkpoint {folder} holds the state of another optimizer: "
                              f"{len(missing)} of this optimizer's variables missing ({', '.join(missing[:3]) or 'none'}), "
                              f"{len(foreign)} unknown ones ({', '.join(foreign[:3]) or 'none'})")
    for name, variable in variables.items():  # every shape checked before anything is assigned
        if tuple(saved_values[name].shape) != tuple(variable.shape):
            raise CheckpointError(f"the checkpoint {folder} holds {name} with shape {saved_values[name].shape}; "
                                  f"this optimizer's has shape {tuple(variable.shape)}")
    for name, variable in variables.items():
        variable.assign(saved_values[name])
    model.seed_counter.assign(state["seed_counter"])
    return state


def _config_difference(a, b) -> str:
    da, db = a.to_dict(), b.to_dict()
    return ", ".join(f"{k}: {da[k]!r} there, {db[k]!r} here" for k in da if da[k] != db[k])


class _staging:
    """Context manager: a temporary sibling folder renamed to `target` on success, removed on failure."""

    def __init__(self, target: Path):
        self.target = Path(target)

    def __enter__(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", dir=self.target.parent))
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        if self.target.exists():
            old = self.target.with_name(f".{self.target.name}.old-{os.getpid()}")
            os.replace(self.target, old)
            os.replace(self.tmp, self.target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(self.tmp, self.target)
        return False
