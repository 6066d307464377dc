"""The training loop (tfvae.training.fit): it learns, it repeats exactly, it resumes a killed
run exactly, and it stops cleanly when the loss stops being a number."""

import hashlib
import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvae import data, distribute, models, serialization, training
from tfvae.errors import CheckpointError, TrainingDivergedError, WorkerLostError

EPOCHS = 3
SETTINGS = dict(latent_dim=4, hidden_units=32)


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


def train(digits, out_dir=None, seed=0, epochs=EPOCHS, **kwargs):
    training.set_seed(seed)
    model = models.build(image_shape=digits.image_shape, seed=seed, **SETTINGS)
    history = training.fit(model, digits, epochs=epochs, binarization="dynamic", seed=seed, out_dir=out_dir,
                           jit_compile=False, verbose=0, **kwargs)
    return model, history


def weights(model):
    return [np.array(v.numpy()) for v in model.weights]


@pytest.fixture(scope="module")
def run(digits, tmp_path_factory):
    out = tmp_path_factory.mktemp("training") / "run"
    model, history = train(digits, out_dir=out)
    return model, history, out


def test_training_lowers_the_loss_and_raises_the_validation_elbo(run):
    _, history, _ = run
    assert len(history["loss"]) == EPOCHS and len(history["val_elbo"]) == EPOCHS
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_elbo"][-1] > history["val_elbo"][0]


def test_wake_sleep_trains_the_model_and_reports_its_elbo(digits):
    # The loss is the wake-sleep surrogate, not the ELBO; the ELBO is still what is reported,
    # and the two phases together must raise it (the chapter compares it with AEVB's).
    training.set_seed(0)
    model = models.build(image_shape=digits.image_shape, objective="wake_sleep", **SETTINGS)
    history = training.fit(model, digits, epochs=EPOCHS, binarization="dynamic", jit_compile=True, verbose=0)
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_elbo"][-1] > history["val_elbo"][0] + 1.0, history["val_elbo"]


def test_a_run_folder_holds_the_model_and_the_last_checkpoints(run):
    model, _, out = run
    assert (out / "model" / serialization.CONFIG_FILE).exists()
    assert (out / "model" / serialization.WEIGHTS_FILE).exists()
    latest = serialization.latest_checkpoint(out / serialization.CHECKPOINTS_DIR)
    assert latest.name == f"epoch-{EPOCHS:05d}"
    # Only the two newest checkpoints are kept.
    assert sorted(p.name for p in (out / "checkpoints").glob("epoch-*")) == ["epoch-00002", "epoch-00003"]
    for saved, own in zip(weights(serialization.load(out)), weights(model)):
        np.testing.assert_array_equal(saved, own)


def test_the_same_seed_gives_identical_weights(digits, run):
    model, history, _ = run
    again, again_history = train(digits)
    for a, b in zip(weights(model), weights(again)):
        np.testing.assert_array_equal(a, b)
    assert again_history["loss"] == history["loss"]


def test_the_cosine_schedule_falls_to_one_percent_at_the_last_step_and_a_constant_one_stays(digits):
    steps = {}
    for schedule in ("constant", "cosine"):
        training.set_seed(0)
        model = models.build(image_shape=digits.image_shape, **SETTINGS)
        training.fit(model, digits, epochs=2, batch_size=500, learning_rate=0.02, lr_schedule=schedule,
                     validate=False, jit_compile=False, verbose=0)
        steps[schedule] = float(model.optimizer.learning_rate.numpy())  # the step size at the current step
        assert int(model.optimizer.iterations.numpy()) == 2 * math.ceil(len(digits.train) / 500)
    assert steps["constant"] == pytest.approx(0.02)
    assert steps["cosine"] == pytest.approx(0.02 * training.COSINE_FINAL_FRACTION)
    # Halfway, the cosine schedule is at the average of its two ends.
    halfway = training.learning_rate_schedule("cosine", 0.02, total_steps=10)(5)
    assert float(halfway) == pytest.approx(0.02 * (1 + training.COSINE_FINAL_FRACTION) / 2)


def test_different_seeds_give_different_initial_weights(digits):
    training.set_seed(0)
    a = models.build(image_shape=digits.image_shape, **SETTINGS)
    training.set_seed(1)
    b = models.build(image_shape=digits.image_shape, **SETTINGS)
    assert not np.array_equal(a.encoder.get_layer("hidden").kernel.numpy(), b.encoder.get_layer("hidden").kernel.numpy())


def test_an_out_dir_with_checkpoints_is_not_overwritten_without_resume(digits, run):
    _, _, out = run
    before = folder_digest(out)
    model = models.build(image_shape=digits.image_shape, **SETTINGS)
    with pytest.raises(CheckpointError, match="already holds checkpoints; pass resume=True"):
        training.fit(model, digits, epochs=EPOCHS, out_dir=out, jit_compile=False, verbose=0)
    assert folder_digest(out) == before


def test_resuming_a_finished_run_trains_nothing_and_keeps_its_history(digits, run):
    model, history, out = run
    resumed = models.build(image_shape=digits.image_shape, **SETTINGS)
    again = training.fit(resumed, digits, epochs=EPOCHS, binarization="dynamic", out_dir=out, resume=True,
                         jit_compile=False, verbose=0)
    assert again["loss"] == history["loss"]
    for a, b in zip(weights(model), weights(resumed)):
        np.testing.assert_array_equal(a, b)


def test_resuming_with_a_different_model_is_refused(digits, run):
    _, _, out = run
    other = models.build(image_shape=digits.image_shape, latent_dim=4, hidden_units=16)
    with pytest.raises(CheckpointError, match="different model: hidden_units: 32 there, 16 here"):
        training.fit(other, digits, epochs=EPOCHS + 1, out_dir=out, resume=True, jit_compile=False, verbose=0)


def folder_digest(folder):
    """A digest of every file's path and bytes under `folder`."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


class PoisonAtEpoch(keras.callbacks.Callback):
    """Sets the decoder's weights to NaN as epoch `epoch` begins (0-based), so that epoch's loss is NaN.

    Also records the digest of the checkpoints folder at that moment: what training must leave untouched.
    """

    def __init__(self, epoch, checkpoints):
        super().__init__()
        self.epoch, self.checkpoints, self.digest = epoch, checkpoints, None

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            self.digest = folder_digest(self.checkpoints)
            for variable in self.model.decoder.weights:
                variable.assign(np.full(variable.shape, np.nan, np.float32))


def test_a_nan_loss_stops_training_and_restores_the_last_good_checkpoint(digits, tmp_path):
    out = tmp_path / "run"
    poison = PoisonAtEpoch(1, out / serialization.CHECKPOINTS_DIR)
    training.set_seed(0)
    model = models.build(image_shape=digits.image_shape, **SETTINGS)
    with pytest.raises(TrainingDivergedError, match=r"the loss became nan during epoch 2.*epoch-00001.*is kept"):
        training.fit(model, digits, epochs=EPOCHS, binarization="dynamic", out_dir=out, callbacks=[poison],
                     jit_compile=False, verbose=0)
    assert poison.digest is not None
    assert folder_digest(out / serialization.CHECKPOINTS_DIR) == poison.digest
    last_good = serialization.latest_checkpoint(out / serialization.CHECKPOINTS_DIR)
    assert last_good.name == "epoch-00001"
    for restored, saved in zip(weights(model), weights(serialization.load(last_good))):
        assert np.all(np.isfinite(restored))
        np.testing.assert_array_equal(restored, saved)
    assert not (out / "model").exists()


def test_a_nan_loss_without_checkpoints_says_there_is_none_to_return_to(digits, tmp_path):
    training.set_seed(0)
    model = models.build(image_shape=digits.image_shape, **SETTINGS)
    with pytest.raises(TrainingDivergedError, match="no checkpoint to return to"):
        training.fit(model, digits, epochs=1, callbacks=[PoisonAtEpoch(0, tmp_path)], validate=False,
                     jit_compile=False, verbose=0)


def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_run(cli_run, cli_train, run_cli,
                                                                     train_until_first_checkpoint, tmp_path):
    out = tmp_path / "killed"
    killed_at = train_until_first_checkpoint(*cli_train, out=out)
    assert not (out / "model").exists(), "the run finished before it was killed; nothing was resumed"
    assert int(killed_at.name.split("-")[1]) < int(cli_train[cli_train.index("--epochs") + 1])

    run_cli(*cli_train, "--out", out, "--resume")
    resumed, uninterrupted = serialization.load(out), serialization.load(cli_run)
    for a, b in zip(weights(resumed), weights(uninterrupted)):
        np.testing.assert_array_equal(a, b)
    assert int(resumed.seed_counter.numpy()) == int(uninterrupted.seed_counter.numpy())
    # run.json records both commands: the killed one and the one that resumed it.
    record = json.loads((out / "run.json").read_text())
    assert [c.endswith("--resume") for c in record["commands"]] == [False, True], record["commands"]


def test_a_peer_lost_while_a_checkpoint_is_written_is_a_worker_lost_error(digits, tmp_path, monkeypatch):
    # Writing a checkpoint builds a model whose variables a multi-worker strategy broadcasts; a peer that
    # dies then fails that collective, which must end the run with the same one-line error as a lost step.
    def lost_peer(*args, **kwargs):
        # From here on the run counts as spanning workers (before, the steps would have reduced across them).
        monkeypatch.setattr(distribute, "spans_workers", lambda strategy: True)
        raise tf.errors.UnavailableError(None, None, "Collective ops is aborted: the tasks have crashed")

    monkeypatch.setattr(serialization, "write_checkpoint", lost_peer)
    with pytest.raises(WorkerLostError, match="a peer worker was lost during epoch 1"):
        train(digits, out_dir=tmp_path / "run", epochs=1)


def test_a_time_budget_stops_after_the_first_call_past_it_and_counts_the_images_it_ran(digits):
    # Any budget is spent by the end of the first call, so training stops there: one minibatch of
    # 100 images per call, one partial epoch in the history.
    _, history = train(digits, epochs=50, max_seconds=1e-6, steps_per_execution=1)
    assert len(history["loss"]) == 1
    assert history["images_per_second"][0] * history["seconds"][0] == pytest.approx(100)
    _, unlimited = train(digits, epochs=2, max_seconds=1e6)
    assert len(unlimited["loss"]) == 2
    assert unlimited["images_per_second"][0] * unlimited["seconds"][0] == pytest.approx(len(digits.train))


@pytest.mark.parametrize("max_seconds", [0, -1.0, float("nan"), float("inf"), "10"])
def test_a_time_budget_that_is_not_a_positive_number_is_refused(digits, max_seconds):
    from tfvae.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="max_seconds"):
        train(digits, epochs=1, max_seconds=max_seconds)


def test_a_time_budget_with_checkpoints_is_refused_before_anything_is_written(digits, tmp_path):
    from tfvae.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="not resumable"):
        train(digits, out_dir=tmp_path / "run", epochs=1, max_seconds=10)
    assert not (tmp_path / "run").exists()


def test_xla_is_used_unless_the_model_is_a_conv_net_on_a_cpu(digits):
    gpu = bool(tf.config.list_physical_devices("GPU"))
    mlp = models.build(image_shape=digits.image_shape, **SETTINGS)
    conv = models.build(image_shape=digits.image_shape, architecture="conv", latent_dim=4)
    assert training.xla_pays(mlp) is True
    assert training.xla_pays(conv) is gpu
