"""Saving and loading (tfvae.serialization): exact round trips, no pickle anywhere, a clear
CheckpointError for every kind of broken folder, and atomic writes."""

import json
import pickle
import shutil

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvae import files, models, serialization
from tfvae.errors import CheckpointError

SETTINGS = dict(image_shape=(8, 8), latent_dim=3, hidden_units=16)


def build(**changes):
    model = models.build(**dict(SETTINGS, **changes))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.optimizer.build(model.trainable_variables)
    return model


def weights(model):
    return [np.array(v.numpy()) for v in model.weights]


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    model = build()
    model.seed_counter.assign(7)
    # Give the optimizer state that is not all zeros, as after training.
    for i, variable in enumerate(model.optimizer.variables):
        variable.assign(np.full(variable.shape, 0.5 + i, variable.dtype))
    return model


@pytest.fixture()
def saved(model, tmp_path):
    return serialization.save(model, tmp_path / "saved")


@pytest.fixture()
def run_dir(model, tmp_path):
    run = tmp_path / "run"
    serialization.write_checkpoint(model, run, 1, {"history": {"loss": [1.0]}})
    return run


def test_a_saved_folder_holds_a_json_config_and_h5_weights_only(saved):
    assert sorted(p.name for p in saved.iterdir()) == [serialization.CONFIG_FILE, serialization.WEIGHTS_FILE]
    config = json.loads((saved / serialization.CONFIG_FILE).read_text())
    assert config["model"]["hidden_units"] == 16 and config["format_version"] == serialization.FORMAT_VERSION


def test_the_weights_file_holds_the_model_alone_not_the_optimizer_slots(model, saved, run_dir):
    # The model fixture is compiled with Adam, whose slots Keras would write beside the weights.
    parameters = sum(int(np.prod(v.shape)) for v in model.weights)
    for folder in (saved, serialization.latest_checkpoint(run_dir / serialization.CHECKPOINTS_DIR)):
        with h5py.File(folder / serialization.WEIGHTS_FILE, "r") as f:
            stored = []
            f.visititems(lambda name, item: stored.append(item.size) if isinstance(item, h5py.Dataset) else None)
            assert "optimizer" not in f
        assert sum(stored) == parameters


def test_save_and_load_round_trip_gives_identical_weights_and_outputs(model, saved):
    loaded = serialization.load(saved)
    assert loaded.config == model.config
    for a, b in zip(weights(model), weights(loaded)):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(0).random((5, 8, 8)).astype(np.float32)
    z = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    seed = tf.constant([3, 4], tf.int32)
    np.testing.assert_array_equal(model.reconstruct(x), loaded.reconstruct(x))
    np.testing.assert_array_equal(model.encode(x).stddev(), loaded.encode(x).stddev())
    np.testing.assert_array_equal(model.decode(z).mean(), loaded.decode(z).mean())
    np.testing.assert_array_equal(model.sample(4, seed=seed), loaded.sample(4, seed=seed))


def test_a_checkpoint_restores_weights_optimizer_state_and_seed_counter(model, run_dir):
    checkpoint = serialization.latest_checkpoint(run_dir / serialization.CHECKPOINTS_DIR)
    fresh = build()
    state = serialization.restore_checkpoint(fresh, checkpoint)
    assert state["epoch"] == 1 and state["history"] == {"loss": [1.0]}
    assert int(fresh.seed_counter.numpy()) == 7
    for a, b in zip(weights(model), weights(fresh)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(model.optimizer.variables, fresh.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_the_optimizer_state_is_restored_by_variable_name_not_by_position(model, run_dir):
    checkpoint = serialization.latest_checkpoint(run_dir / serialization.CHECKPOINTS_DIR)
    optimizer_file = checkpoint / serialization.OPTIMIZER_FILE
    with np.load(optimizer_file, allow_pickle=False) as values:
        saved = {name: values[name] for name in values.files}
    assert set(saved) == {v.name for v in model.optimizer.variables}
    np.savez(optimizer_file, **dict(reversed(saved.items())))  # the same values, stored in the opposite order
    fresh = build()
    serialization.restore_checkpoint(fresh, checkpoint)
    for a, b in zip(model.optimizer.variables, fresh.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_the_state_of_another_optimizer_is_a_checkpoint_error_naming_the_variables(run_dir):
    checkpoint = serialization.latest_checkpoint(run_dir / serialization.CHECKPOINTS_DIR)
    optimizer_file = checkpoint / serialization.OPTIMIZER_FILE
    with np.load(optimizer_file, allow_pickle=False) as values:
        saved = {name.replace("momentum", "accumulator"): values[name] for name in values.files}
    np.savez(optimizer_file, **saved)
    with pytest.raises(CheckpointError, match="another optimizer: 8 of .* missing \\(.*_momentum.*8 unknown ones \\(.*_accumulator"):
        serialization.restore_checkpoint(build(), checkpoint)


def test_an_optimizer_value_of_the_wrong_shape_is_a_checkpoint_error_and_restores_nothing(run_dir):
    checkpoint = serialization.latest_checkpoint(run_dir / serialization.CHECKPOINTS_DIR)
    optimizer_file = checkpoint / serialization.OPTIMIZER_FILE
    with np.load(optimizer_file, allow_pickle=False) as values:
        saved = {name: values[name] for name in values.files}
    name = next(name for name in saved if name.endswith("_velocity"))
    saved[name] = saved[name][..., :1]
    np.savez(optimizer_file, **saved)
    fresh = build()
    before = [v.numpy().copy() for v in fresh.optimizer.variables]
    with pytest.raises(CheckpointError, match=f"holds {name} with shape"):
        serialization.restore_checkpoint(fresh, checkpoint)
    for a, b in zip(before, fresh.optimizer.variables):
        np.testing.assert_array_equal(a, b.numpy())


def test_load_accepts_a_model_folder_a_checkpoint_or_a_run_folder(model, run_dir):
    checkpoint = serialization.latest_checkpoint(run_dir / serialization.CHECKPOINTS_DIR)
    for path in (checkpoint, run_dir):
        for a, b in zip(weights(model), weights(serialization.load(path))):
            np.testing.assert_array_equal(a, b)


def test_loading_never_unpickles(model, saved, run_dir, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("pickle was used while loading")
    original_np_load = np.load

    def np_load(*args, **kwargs):
        assert kwargs.get("allow_pickle") is False, "np.load called without allow_pickle=False"
        return original_np_load(*args, **kwargs)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    monkeypatch.setattr(np, "load", np_load)
    serialization.load(saved)
    serialization.restore_checkpoint(build(), serialization.latest_checkpoint(run_dir / serialization.CHECKPOINTS_DIR))
    files = [p for folder in (saved, run_dir) for p in folder.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in {".pkl", ".pickle", ".npy", ".keras"}]


def test_a_missing_folder_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="no saved model at .*nowhere: the folder does not exist"):
        serialization.load(tmp_path / "nowhere")


def test_a_folder_without_a_model_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="holds no config.json, no model/ folder and no checkpoints"):
        serialization.load(tmp_path)


def test_missing_weights_are_a_checkpoint_error(saved):
    (saved / serialization.WEIGHTS_FILE).unlink()
    with pytest.raises(CheckpointError, match="has no model.weights.h5"):
        serialization.load(saved)


@pytest.mark.parametrize("text, problem", [
    ("{not json", "is corrupt or not a tfvae config"),
    (json.dumps({"format_version": 1}), "is corrupt or not a tfvae config"),
    (json.dumps({"model": {"latent_dim": 3, "depth": 9}}), "unknown model settings: depth"),
    (json.dumps({"model": {"latent_dim": -3}}), "latent_dim must be >= 1"),
])
def test_a_corrupt_config_is_a_checkpoint_error_naming_the_file(saved, text, problem):
    (saved / serialization.CONFIG_FILE).write_text(text)
    with pytest.raises(CheckpointError, match=f"config.json.*{problem}"):
        serialization.load(saved)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_weights_are_a_checkpoint_error_naming_the_file(saved, damage):
    path = saved / serialization.WEIGHTS_FILE
    data = path.read_bytes()
    path.write_bytes(b"this is not an HDF5 file" * 10 if damage == "garbage" else data[:len(data) // 2])
    with pytest.raises(CheckpointError, match="model.weights.h5 could not be loaded"):
        serialization.load(saved)


def test_weights_of_a_different_model_are_a_checkpoint_error(saved, tmp_path):
    other = serialization.save(build(hidden_units=8), tmp_path / "other")
    shutil.copy(other / serialization.WEIGHTS_FILE, saved / serialization.WEIGHTS_FILE)
    with pytest.raises(CheckpointError, match="could not be loaded \\(corrupt, or written by another model\\)"):
        serialization.load(saved)


def test_restoring_a_checkpoint_into_a_different_model_names_the_difference(run_dir):
    checkpoint = serialization.latest_checkpoint(run_dir / serialization.CHECKPOINTS_DIR)
    with pytest.raises(CheckpointError, match="different model: latent_dim: 3 there, 2 here"):
        serialization.restore_checkpoint(build(latent_dim=2), checkpoint)


def test_a_corrupt_optimizer_state_is_a_checkpoint_error(run_dir):
    checkpoint = serialization.latest_checkpoint(run_dir / serialization.CHECKPOINTS_DIR)
    (checkpoint / serialization.OPTIMIZER_FILE).write_bytes(b"not a zip file")
    with pytest.raises(CheckpointError, match="epoch-00001 is corrupt"):
        serialization.restore_checkpoint(build(), checkpoint)


def test_latest_naming_a_missing_checkpoint_is_a_checkpoint_error(run_dir):
    shutil.rmtree(run_dir / serialization.CHECKPOINTS_DIR / "epoch-00001")
    with pytest.raises(CheckpointError, match="latest names epoch-00001, which is missing or incomplete"):
        serialization.load(run_dir)


def test_an_interrupted_save_leaves_no_folder_and_no_temporary_files(model, tmp_path):
    target = tmp_path / "model"
    with pytest.raises(KeyboardInterrupt):
        with serialization._staging(target) as staging:
            serialization.write_model_files(model, staging)
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C mid-write
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_overwrite_keeps_the_previous_save(model, saved):
    before = {p.name: p.read_bytes() for p in saved.iterdir()}
    with pytest.raises(KeyboardInterrupt):
        with serialization._staging(saved) as staging:
            (staging / serialization.CONFIG_FILE).write_text("half")
            raise KeyboardInterrupt
    assert {p.name: p.read_bytes() for p in saved.iterdir()} == before
    assert [p.name for p in saved.parent.iterdir()] == ["saved"]


def test_an_interrupted_checkpoint_leaves_latest_at_the_previous_complete_one(model, run_dir, monkeypatch):
    def interrupted_savez(path, **arrays):
        path.write_bytes(b"partial")  # half a file, then the process is interrupted
        raise KeyboardInterrupt
    monkeypatch.setattr(np, "savez", interrupted_savez)
    with pytest.raises(KeyboardInterrupt):
        serialization.write_checkpoint(model, run_dir, 2, {"history": {"loss": [1.0, 0.5]}})
    root = run_dir / serialization.CHECKPOINTS_DIR
    assert sorted(p.name for p in root.iterdir()) == ["epoch-00001", serialization.LATEST_FILE]
    latest = serialization.latest_checkpoint(root)
    assert latest.name == "epoch-00001"
    assert serialization.restore_checkpoint(build(), latest)["epoch"] == 1


def test_an_atomic_write_replaces_the_file_and_leaves_no_temporary_behind(tmp_path):
    path = tmp_path / "run.json"
    path.write_text("old")
    files.atomic_write_text(path, "new")
    assert path.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]
