"""Specifications of tfvae.reference: every shipped reference run can be repeated from its record,
fits the size limits, holds no pickle, and is evaluated only on the test images it held out."""

import json
import shlex

import pytest

from tfvae import data, reference
from tfvae.errors import InvalidInputError

MB = 1_000_000


def test_at_least_one_reference_run_ships_with_tfvae():
    assert reference.names(), f"no reference runs in {reference.ROOT}"


def test_reference_runs_fit_the_size_limits_and_hold_no_pickle():
    files = [p for p in reference.ROOT.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert path.suffix in {".json", ".h5"}, path  # JSON and HDF5 only: nothing a loader would unpickle
        assert path.stat().st_size <= 5 * MB, path
    assert sum(p.stat().st_size for p in files) <= 20 * MB


@pytest.mark.parametrize("name", reference.names())
def test_a_reference_run_loads_and_records_how_it_was_made(name):
    run = reference.load(name)
    assert run.command.startswith("tfvae train ") and f"--seed {run.record['seed']}" in run.command
    assert run.wall_seconds > 0 and len(run.history["loss"]) == run.epochs
    assert run.model().config.image_shape == (28, 28)


@pytest.mark.parametrize("name", reference.names())
def test_a_reference_run_repeats_its_first_epoch_from_the_recorded_command(name, train_until_first_checkpoint,
                                                                          tmp_path):
    """The recorded command itself, run until its first checkpoint (the end of epoch 1), then stopped.

    Not `--epochs 1`: a schedule that depends on the run's length (--lr-schedule cosine) would
    then take other steps in that first epoch.
    """
    run = reference.load(name)
    args = shlex.split(reference.command_without(run.command, "--out"))[1:]
    out = tmp_path / "rerun"
    checkpoint = train_until_first_checkpoint(*args, "--quiet", out=out, timeout=600)
    rerun_record = json.loads((out / "run.json").read_text())
    assert rerun_record["data_sha256"] == run.record["data_sha256"]
    first_loss = json.loads((checkpoint / "state.json").read_text())["history"]["loss"][0]
    # Same seed, data order, binarization and step sizes. Only float32 round-off may differ, where another CPU's
    # kernels sum in another order; over one epoch's 550 steps that moves the average loss by far less than 1e-3 of it.
    assert first_loss == pytest.approx(run.history["loss"][0], rel=1e-3)


def test_a_run_is_evaluated_only_on_the_test_images_it_held_out():
    run = reference.load(reference.names()[0])
    assert run.holds_out(data.load(run.record["dataset"], seed=run.record["seed"]))
    assert not run.holds_out(data.load("digits"))


def test_a_run_evaluates_its_held_out_test_images_and_nothing_else():
    run = reference.load(reference.names()[0])
    result = run.evaluate(data.load(run.record["dataset"], seed=run.record["seed"]), k=100, max_images=200)
    assert result["images"] == 200 and result["k"] == 100
    # log p(x) estimated with k = 100 lies above the ELBO for the average image ({eq}`eq-iwae`: L_100 >= L_1); each
    # image's single-sample ELBO is noisy (a few nats), so the average needs a couple of hundred images.
    excess = result["per_image"]["log_likelihood"] - result["per_image"]["elbo"]
    assert excess.mean() > 3 * excess.std(ddof=1) / len(excess) ** 0.5
    assert run.evaluate(data.load("digits"), k=20) is None


def test_a_command_without_options_leaves_out_each_option_and_its_value():
    command = "tfvae train --dataset mnist --objective iwae --iwae-k 5 --seed 0 --out '/tmp/a run'"
    assert reference.command_without(command, "--objective", "--iwae-k", "--out") == \
        "tfvae train --dataset mnist --seed 0"
    assert reference.command_without(command) == command


def test_an_unknown_reference_run_is_refused_by_name():
    with pytest.raises(InvalidInputError, match="unknown reference run 'nope'"):
        reference.load("nope")
