"""The `tfvae` command line: train, evaluate and sample end to end, documented options, clear errors."""

import json
import os
import shlex
import shutil
import subprocess
import sys

import keras
import matplotlib.image
import numpy as np
import pytest
import tensorflow as tf

import tfvae
from tfvae import choices, cli, data, models, serialization, training
from tfvae.errors import TrainingDivergedError

SUBCOMMANDS = ("train", "evaluate", "sample")
# The options the command promises (README and book): a removed or renamed one fails here.
PROMISED = {
    "train": ["--dataset", "--data-dir", "--binarization", "--latent-dim", "--architecture", "--hidden-units",
              "--likelihood", "--beta", "--objective", "--iwae-k", "--labelled", "--classifier-weight", "--epochs", "--batch-size", "--learning-rate", "--optimizer", "--seed",
              "--out", "--resume", "--strategy", "--mixed-precision", "--steps-per-execution", "--no-xla",
              "--quiet"],
    "evaluate": ["RUN", "--k", "--split", "--max-images"],
    "sample": ["RUN", "--n", "--out", "--seed"],
}


def folder_digest(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def commands(cli_run, tmp_path_factory):
    """evaluate, sample and a failing command, run at the same time (each pays TensorFlow's import)."""
    work = tmp_path_factory.mktemp("cli_outputs")
    before = folder_digest(cli_run)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TFVAE_NO_PROGRESS="1")
    argv = {
        "evaluate": ["evaluate", cli_run, "--k", "200", "--max-images", "100"],
        "sample": ["sample", cli_run, "--n", "16", "--out", work / "samples.png", "--seed", "1"],
        "missing": ["evaluate", work / "no-such-run"],
    }
    running = {name: subprocess.Popen([sys.executable, "-m", "tfvae.cli", *map(str, args)], cwd=work, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name, args in argv.items()}
    results = {}
    for name, process in running.items():
        stdout, stderr = process.communicate(timeout=300)
        results[name] = (process.returncode, stdout, stderr)
    return {"results": results, "work": work, "run_digest_before": before}


def test_train_writes_weights_config_and_run_settings(cli_run, cli_train):
    config = json.loads((cli_run / "model" / serialization.CONFIG_FILE).read_text())["model"]
    assert (config["image_shape"], config["hidden_units"], config["latent_dim"]) == ([8, 8], 32, 4)
    assert (cli_run / "model" / serialization.WEIGHTS_FILE).stat().st_size > 0
    settings = json.loads((cli_run / cli.RUN_FILE).read_text())
    assert settings["dataset"] == "digits" and settings["binarization"] == "dynamic" and settings["seed"] == 3
    # The record that makes it a reference run: the command, the versions, the data's hashes, the time taken.
    assert settings["commands"] == ["tfvae " + shlex.join([*cli_train, "--out", str(cli_run)])]
    assert settings["tfvae_version"] == tfvae.__version__ and settings["tensorflow_version"] == tf.__version__
    assert settings["data_sha256"] == data.load("digits", seed=3).sha256()
    assert settings["wall_seconds"] > 0
    assert serialization.latest_checkpoint(cli_run / serialization.CHECKPOINTS_DIR) is not None


def test_evaluate_prints_the_elbo_and_the_log_likelihood_in_nats(commands):
    code, stdout, stderr = commands["results"]["evaluate"]
    assert code == 0, stderr
    numbers = {}
    for line in stdout.splitlines():
        if line.strip().endswith("nats"):
            numbers[line.split()[0]] = float(line.split()[-2])
    assert set(numbers) == {"ELBO", "log"}, stdout
    assert "digits" in stdout and "100 images" in stdout
    # Both beat the model that ignores the image (64 fair coins: -64 log 2 nats) and are < 0.
    assert -64 * np.log(2) < numbers["ELBO"] < 0 and -64 * np.log(2) < numbers["log"] < 0
    # log p(x) from k = 200 importance samples lies above the ELBO on average (L_200 >= L_1), but this
    # model's gap is small (~0.25 nats) and the printed ELBO is a one-sample estimate whose 100-image
    # mean has a standard deviation of ~0.12 nats: allow 4 of those.
    assert numbers["log"] > numbers["ELBO"] - 0.5


def test_evaluate_and_sample_write_nothing_into_the_run(cli_run, commands):
    assert folder_digest(cli_run) == commands["run_digest_before"]
    assert sorted(p.name for p in commands["work"].iterdir()) == ["samples.png"]


def test_sample_writes_a_png_grid(commands):
    code, stdout, stderr = commands["results"]["sample"]
    assert code == 0, stderr
    png = commands["work"] / "samples.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(png)
    assert image.ndim == 3 and min(image.shape[:2]) > 100
    assert "16 samples" in stdout


def test_a_tfvae_error_exits_2_with_one_line_and_no_traceback(commands):
    code, _, stderr = commands["results"]["missing"]
    assert code == 2
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("tfvae: error:")]
    assert len(errors) == 1 and "no-such-run" in errors[0] and "does not exist" in errors[0]


def test_help_runs_as_a_module_without_importing_tensorflow():
    # `--help` must be instant: the command imports TensorFlow only once a subcommand runs.
    result = subprocess.run([sys.executable, "-m", "tfvae.cli", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and all(c in result.stdout for c in SUBCOMMANDS), result.stderr
    check = subprocess.run([sys.executable, "-c", "import sys, tfvae.cli; assert 'tensorflow' not in sys.modules"],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_help_documents_every_option(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    subparser = cli.build_parser()._subparsers._group_actions[0].choices[command]
    for action in subparser._actions:
        if action.dest == "help":
            continue
        assert action.help, f"{command} {action.option_strings or action.dest} has no help text"
        for name in action.option_strings or [action.metavar]:
            assert name in text
    for name in PROMISED[command]:
        assert name in text, f"tfvae {command} --help does not mention {name}"


def test_every_optimizer_the_command_offers_has_a_keras_class():
    assert set(training.OPTIMIZER_CLASSES) == set(choices.OPTIMIZERS)


def one_error_line(capsys):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("tfvae: error: "), err
    return lines[0]


def test_mnist_offline_is_a_clear_error_naming_the_offline_datasets(monkeypatch, tmp_path, capsys):
    def no_network():
        raise Exception("URL fetch failure on https://storage.googleapis.com/mnist.npz: None -- "
                        "[Errno -3] Temporary failure in name resolution")
    monkeypatch.setattr(keras.datasets.mnist, "load_data", no_network)
    monkeypatch.delenv("TFVAE_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))  # no `tfvae data fetch mnist` here
    assert cli.main(["train", "--dataset", "mnist", "--epochs", "1", "--out", str(tmp_path / "run")]) == 2
    line = one_error_line(capsys)
    assert "MNIST" in line and "'digits'" in line and "'fashion_mnist'" in line


def test_training_into_a_finished_run_without_resume_is_refused(cli_run, capsys):
    before = folder_digest(cli_run)
    assert cli.main(["train", "--dataset", "digits", "--out", str(cli_run)]) == 2
    assert "already holds a run's checkpoints; pass --resume" in one_error_line(capsys)
    assert folder_digest(cli_run) == before


def test_resuming_with_other_data_settings_is_refused(cli_run, cli_train, capsys):
    before = folder_digest(cli_run)
    changed = [arg if arg != "dynamic" else "static" for arg in cli_train]
    assert cli.main([*changed, "--out", str(cli_run), "--resume"]) == 2
    assert "binarization: 'dynamic' before, 'static' now" in one_error_line(capsys)
    assert folder_digest(cli_run) == before


def test_resuming_on_another_objective_is_refused(cli_run, cli_train, capsys):
    before = folder_digest(cli_run)
    assert cli.main([*cli_train, "--objective", "iwae", "--out", str(cli_run), "--resume"]) == 2
    assert "objective: 'elbo' before, 'iwae' now" in one_error_line(capsys)
    assert folder_digest(cli_run) == before


@pytest.mark.parametrize("argv, message", [
    (["evaluate", "RUN", "--k", "0"], "--k must be >= 1"),
    (["evaluate", "RUN", "--max-images", "0"], "--max-images must be >= 1"),
    (["sample", "RUN", "--n", "0"], "--n must be >= 1"),
])
def test_non_positive_counts_are_clear_errors(argv, message, cli_run, capsys):
    assert cli.main([str(cli_run) if a == "RUN" else a for a in argv]) == 2
    assert message in one_error_line(capsys)


def test_a_folder_without_run_settings_cannot_be_evaluated(cli_run, tmp_path, capsys):
    # A bare model folder copied out of its run has no record of the data it was trained on.
    shutil.copytree(cli_run / "model", tmp_path / "model")
    assert cli.main(["evaluate", str(tmp_path / "model")]) == 2
    assert "has no run.json" in one_error_line(capsys)


def test_unknown_choices_are_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["train", "--dataset", "cifar", "--out", "x"])
    assert exit_.value.code == 2
    assert "invalid choice: 'cifar'" in capsys.readouterr().err


@pytest.mark.parametrize("argv, objective, k", [
    ([], "elbo", 1),
    (["--objective", "iwae"], "iwae", cli.DEFAULT_IWAE_K),
    (["--objective", "iwae", "--iwae-k", "3"], "iwae", 3),
])
def test_the_training_objective_reaches_the_saved_model(argv, objective, k, tmp_path):
    out = tmp_path / "run"
    assert cli.main(["train", "--dataset", "digits", "--max-train", "100", "--epochs", "1", "--latent-dim", "2",
                     "--hidden-units", "8", "--no-xla", "--quiet", *argv, "--out", str(out)]) == 0
    config = serialization.load(out / "model").config
    assert (config.objective, config.iwae_k) == (objective, k)


def test_sample_with_the_same_seed_draws_the_same_images(cli_run, tmp_path, capsys):
    paths = {name: tmp_path / f"{name}.png" for name in ("a", "b", "c")}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        assert cli.main(["sample", str(cli_run), "--n", "9", "--out", str(paths[name]), "--seed", str(seed)]) == 0
    images = {name: matplotlib.image.imread(path) for name, path in paths.items()}
    np.testing.assert_array_equal(images["a"], images["b"])
    assert not np.array_equal(images["a"], images["c"])


# --- refused commands: checked before TensorFlow's work, one line, exit 2, nothing written ---

def snapshot(folder):
    """Every path under `folder`, with each file's bytes (None for a folder)."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


@pytest.fixture
def no_heavy_work(monkeypatch):
    """Fail the test if a command gets as far as loading data, building, loading or training a model."""
    def reached(*args, **kwargs):
        raise AssertionError("the command was not refused before its TensorFlow work")
    for module, name in ((data, "load"), (models, "build"), (serialization, "load"), (training, "fit")):
        monkeypatch.setattr(module, name, reached)


def refused_line(capsys):
    """The one error line of a refused in-process command (and no traceback)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("tfvae: error: "), err
    return lines[0]


@pytest.mark.parametrize("out_exists", [False, True], ids=["new folder", "empty folder"])
@pytest.mark.parametrize("argv, message", [
    (["--batch-size", "0"], "--batch-size must be >= 1, got 0"),
    (["--epochs", "-1"], "--epochs must be >= 1, got -1"),
    (["--learning-rate", "nan"], "--learning-rate must be a finite number > 0, got nan"),
    (["--learning-rate", "-1"], "--learning-rate must be a finite number > 0, got -1.0"),
    (["--learning-rate", "inf"], "--learning-rate must be a finite number > 0, got inf"),
    (["--latent-dim", "0"], "--latent-dim must be >= 1, got 0"),
    (["--hidden-units", "0"], "--hidden-units must be >= 1, got 0"),
    (["--max-train", "0"], "--max-train must be >= 1, got 0"),
    (["--steps-per-execution", "0"], "--steps-per-execution must be >= 1, got 0"),
    (["--beta", "nan"], "--beta must be a finite number >= 0, got nan"),
    (["--beta", "-0.5"], "--beta must be a finite number >= 0, got -0.5"),
    (["--observation-scale", "0"], "--observation-scale must be a finite number > 0, got 0.0"),
    (["--observation-scale", "inf"], "--observation-scale must be a finite number > 0, got inf"),
    (["--seed", "-1"], "--seed must be in 0 .. 2**32 - 1, got -1"),
    (["--objective", "iwae", "--iwae-k", "0"], "--iwae-k must be >= 1, got 0"),
    (["--iwae-k", "5"], "--iwae-k applies only with --objective iwae, not with --objective elbo"),
    (["--labelled", "0"], "--labelled must be >= 1, got 0"),
    (["--classifier-weight", "1"], "--classifier-weight applies only with --labelled"),
    (["--labelled", "10", "--classifier-weight", "nan"], "--classifier-weight must be a finite number >= 0, got nan"),
    (["--labelled", "10", "--objective", "iwae"], "--objective does not apply to it"),
    (["--labelled", "10", "--beta", "2"], "--beta does not apply to it"),
    (["--labelled", "10", "--architecture", "conv"], "--architecture does not apply to it"),
])
def test_train_with_a_bad_number_is_refused_and_writes_nothing(argv, message, out_exists, cli_train, tmp_path,
                                                                 capsys, no_heavy_work):
    # A refused run used to leave run.json behind, which then blocked the corrected command.
    out = tmp_path / "run"
    if out_exists:
        out.mkdir()
    before = snapshot(tmp_path)
    assert cli.main([*cli_train, *argv, "--out", str(out)]) == 2
    assert message in refused_line(capsys)
    assert snapshot(tmp_path) == before


def _file(path, text="not a folder"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _folder(path):
    path.mkdir(parents=True)
    return path


# name: (make the --out path under tmp_path, extra arguments, what the error says)
OUT_CASES = {
    "out is a file": (
        lambda t: _file(t / "run"), [], "is a file, not a folder; choose another --out folder"),
    "out lies under a file": (
        lambda t: _file(t / "notes.txt") / "run", [], "notes.txt is a file, not a folder; choose another --out"),
    "folder holds another run's settings": (
        lambda t: _file(t / "run" / cli.RUN_FILE, '{"dataset": "digits"}').parent, [],
        "already holds a run's settings (run.json); pass --resume to continue it, or choose another --out"),
    "folder holds another run's checkpoints": (
        lambda t: _file(t / "run" / "checkpoints" / "latest", "epoch-00001").parent.parent, [],
        "already holds a run's checkpoints; pass --resume to continue it, or choose another --out"),
    "folder holds a saved model": (
        lambda t: _file(t / "run" / "model" / serialization.CONFIG_FILE, "{}").parent.parent, [],
        "already holds a saved model (model/), which training would replace; choose another --out"),
    "--resume on an empty folder": (
        lambda t: _folder(t / "run"), ["--resume"],
        "holds no run to continue (no run.json, no checkpoints/); give the --out folder of the run"),
    "--resume on a missing folder": (
        lambda t: t / "run", ["--resume"], "does not exist; give the --out folder of the run to continue, "
                                           "or drop --resume"),
    "--resume on a corrupt run.json": (
        lambda t: _file(t / "run" / cli.RUN_FILE, "{").parent, ["--resume"], "run.json is corrupt"),
    "--resume of a run with other settings": (
        lambda t: _file(t / "run" / cli.RUN_FILE, json.dumps({"dataset": "digits", "batch_size": 50})).parent,
        ["--resume"], "--resume needs the settings of the run in"),
}


@pytest.mark.parametrize("case", list(OUT_CASES))
def test_train_into_an_unusable_out_is_refused_and_writes_nothing(case, cli_train, tmp_path, capsys, no_heavy_work):
    make_out, argv, message = OUT_CASES[case]
    out = make_out(tmp_path)
    before = snapshot(tmp_path)
    assert cli.main([*cli_train, *argv, "--out", str(out)]) == 2
    line = refused_line(capsys)
    assert message in line and str(out) in line
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("make_out, message", [
    (lambda t: _folder(t / "pictures"), "is a folder; give the image file to write, e.g. --out"),
    (lambda t: _file(t / "notes.txt") / "samples.png", "notes.txt is a file, not a folder; choose another --out"),
    (lambda t: _file(t / "notes.txt") / "more" / "samples.png", "notes.txt is a file, not a folder"),
    (lambda t: t / "samples.txt", "cannot write '.txt' images; end the name in .png"),
], ids=["an existing folder", "under a file", "two levels under a file", "an unknown image type"])
def test_sample_to_an_unusable_out_is_refused_and_writes_nothing(make_out, message, cli_run, tmp_path, capsys,
                                                                  no_heavy_work):
    out = make_out(tmp_path)
    before, run_before = snapshot(tmp_path), snapshot(cli_run)
    assert cli.main(["sample", str(cli_run), "--n", "4", "--out", str(out)]) == 2
    line = refused_line(capsys)
    assert message in line and str(out) in line
    assert snapshot(tmp_path) == before and snapshot(cli_run) == run_before


def test_a_new_run_refused_before_its_first_checkpoint_leaves_nothing_behind(cli_train, tmp_path, monkeypatch,
                                                                             capsys):
    # An error found only while training (here a loss that diverged in the first epoch) must not
    # leave a run.json that blocks the corrected command: new folders go too, an existing one stays.
    def diverge(model, dataset, *, out_dir, **kwargs):
        assert (out_dir / cli.RUN_FILE).exists()
        raise TrainingDivergedError("the loss became nan during epoch 1; training stopped with no checkpoint")
    monkeypatch.setattr(training, "fit", diverge)
    (tmp_path / "kept").mkdir()
    for out in (tmp_path / "new" / "run", tmp_path / "kept"):
        assert cli.main([*cli_train, "--max-train", "100", "--out", str(out)]) == 2
        assert "the loss became nan" in refused_line(capsys)
    assert snapshot(tmp_path) == {"kept": None}


@pytest.mark.parametrize("argv, path, message", [
    (["train", "--dataset", "digits", "--out", "{tmp}/notes.txt"], "notes.txt", "is a file, not a folder"),
    (["train", "--dataset", "digits", "--batch-size", "0", "--out", "{tmp}/run"], None, "--batch-size must be >= 1"),
    (["sample", "{tmp}/no-such-run", "--out", "{tmp}/pictures"], "pictures", "is a folder"),
], ids=["train into a file", "train with batch size 0", "sample into a folder"])
def test_refusals_reach_the_terminal_as_one_line_without_a_traceback(argv, path, message, run_cli, tmp_path):
    # End to end through `python -m tfvae.cli`; refused before TensorFlow is imported, so each takes < 1 s.
    _file(tmp_path / "notes.txt")
    (tmp_path / "pictures").mkdir()
    before = snapshot(tmp_path)
    result = run_cli(*(arg.format(tmp=tmp_path) for arg in argv), check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tfvae: error: ") and message in lines[0], result.stderr
    assert path is None or path in lines[0]
    assert snapshot(tmp_path) == before


def test_refused_commands_do_not_import_tensorflow(tmp_path):
    # Argument and path checks are cheap: a refusal must not wait for TensorFlow's import.
    _file(tmp_path / "notes.txt")
    script = (
        "import sys\n"
        "from tfvae.cli import main\n"
        f"tmp = {str(tmp_path)!r}\n"
        "for argv in (['train', '--out', tmp + '/notes.txt'], ['train', '--epochs', '-1', '--out', tmp + '/r'],\n"
        "             ['train', '--out', tmp + '/r', '--resume'], ['evaluate', tmp, '--k', '0'],\n"
        "             ['sample', tmp, '--out', tmp]):\n"
        "    assert main(argv) == 2, argv\n"
        "assert 'tensorflow' not in sys.modules, 'a refusal imported TensorFlow'\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("tfvae: error: ") == 5 and "Traceback" not in result.stderr
