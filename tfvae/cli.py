"""The `tfvae` command: train a VAE, evaluate it, draw samples from it.

    tfvae train --dataset digits --epochs 20 --out runs/digits
    tfvae evaluate runs/digits            # test ELBO and log p(x) in nats
    tfvae sample runs/digits --out samples.png

`train` writes the run folder that `tfvae.training.fit` writes (checkpoints/ after every
epoch, model/ at the end) plus `run.json`, the data and training settings, so the other
subcommands evaluate and sample on the same data without being told again. A run that
was killed continues with the same command and `--resume`.

Errors tfvae raises on purpose (bad settings, missing data, unreadable checkpoints) are
printed as one line, `tfvae: error: ...`, with exit status 2, like argparse's own.
TensorFlow is imported only once the arguments are parsed, so `--help` is instant.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from tfvae.data import BINARIZATIONS, DATASETS, SPLITS
from tfvae.errors import CheckpointError, TfvaeError

RUN_FILE = "run.json"
# The choices of the options below. They repeat constants of modules that import
# TensorFlow (tests/test_cli.py checks that they agree), so that `--help` stays instant.
ARCHITECTURES = ("mlp", "conv")
LIKELIHOODS = ("bernoulli", "gaussian", "gaussian_fixed")
OPTIMIZERS = ("adam", "adagrad", "sgd")
STRATEGIES = ("auto", "default", "mirrored", "multiworker")
# Settings a resumed run must share with the run it continues (the data it sees and how it steps).
RESUME_MUST_MATCH = ("dataset", "binarization", "max_train", "seed", "batch_size", "learning_rate", "optimizer")


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
                           "'none': grey values (default: %(default)s)")
    data.add_argument("--max-train", type=int, metavar="N",
                      help="train on at most N images (after the validation split), for quick runs")
    model = train.add_argument_group("model")
    model.add_argument("--latent-dim", type=int, default=20, metavar="N",
                       help="dimension of the latent code z (default: %(default)s)")
    model.add_argument("--architecture", choices=ARCHITECTURES, default="mlp",
                       help="'mlp': the paper's one-hidden-layer tanh networks; 'conv': a small convolutional "
                            "pair (default: %(default)s)")
    model.add_argument("--hidden-units", type=int, default=500, metavar="N",
                       help="width of the MLP's hidden layer (default: %(default)s, as in the paper)")
    model.add_argument("--likelihood", choices=LIKELIHOODS, default="bernoulli",
                       help="p(x|z) per pixel: 'bernoulli' for binary data, 'gaussian' with a learned variance, "
                            "'gaussian_fixed' with a fixed one (default: %(default)s)")
    model.add_argument("--beta", type=float, default=1.0,
                       help="weight of the KL term; 1 trains on the ELBO, other values give a beta-VAE "
                            "(default: %(default)s)")
    run = train.add_argument_group("training")
    run.add_argument("--epochs", type=int, default=10, metavar="N",
                     help="epochs in all, counting those a resumed run already did (default: %(default)s)")
    run.add_argument("--batch-size", type=int, default=100, metavar="N",
                     help="minibatch size M across all replicas (default: %(default)s, as in the paper)")
    run.add_argument("--learning-rate", type=float, default=1e-3, metavar="LR",
                     help="the optimizer's step size (default: %(default)s)")
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
    hardware.add_argument("--no-xla", action="store_true", help="do not compile the training step with XLA")
    train.add_argument("--quiet", action="store_true", help="print nothing but errors")
    train.set_defaults(handler=train_command)

    evaluate = commands.add_parser("evaluate", help="print a run's held-out ELBO and log-likelihood in nats",
                                   description="Print the ELBO and the importance-sampled log-likelihood "
                                               "log p(x) (eq-is-loglik) of a trained run, averaged over a split, "
                                               "in nats. Writes nothing.")
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
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
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
    from tfvae import data, distribute, models, serialization, training

    out = Path(args.out)
    if not args.resume and serialization.latest_checkpoint(out / serialization.CHECKPOINTS_DIR) is not None:
        raise CheckpointError(f"{out} already holds a run's checkpoints; pass --resume to continue it, "
                              "or choose a new --out folder")
    settings = {key: getattr(args, key) for key in (
        "dataset", "data_dir", "binarization", "max_train", "epochs", "batch_size", "learning_rate", "optimizer",
        "seed", "strategy", "mixed_precision", "steps_per_execution")}
    settings["xla"] = not args.no_xla
    if args.resume and (out / RUN_FILE).exists():
        previous = read_run(out)
        changed = [f"{key}: {previous.get(key)!r} before, {settings[key]!r} now"
                   for key in RESUME_MUST_MATCH if previous.get(key) != settings[key]]
        if changed:
            raise CheckpointError(f"--resume needs the settings of the run in {out}, but " + "; ".join(changed))

    dataset = data.load(args.dataset, data_dir=args.data_dir, max_train=args.max_train, seed=args.seed)
    if args.mixed_precision:
        training.use_mixed_precision()
    training.set_seed(args.seed)
    strategy = distribute.strategy(args.strategy)
    with strategy.scope():
        model = models.build(image_shape=dataset.image_shape, latent_dim=args.latent_dim,
                             architecture=args.architecture, hidden_units=args.hidden_units,
                             likelihood=args.likelihood, beta=args.beta, seed=args.seed)
        out.mkdir(parents=True, exist_ok=True)
        _write_json(out / RUN_FILE, settings)
        if not args.quiet:
            print(dataset.notice().replace("**", ""))
        training.fit(model, dataset, epochs=args.epochs, batch_size=args.batch_size,
                     learning_rate=args.learning_rate, optimizer=args.optimizer, binarization=args.binarization,
                     seed=args.seed, out_dir=out, resume=args.resume, steps_per_execution=args.steps_per_execution,
                     jit_compile=not args.no_xla, verbose=0 if args.quiet else 2)
    if not args.quiet:
        print(f"saved the model (weights + config) to {out / 'model'}")


def evaluate_command(args):
    from tfvae import data, evaluation, serialization, validation

    k = validation.positive_int(args.k, "--k")
    max_images = None if args.max_images is None else validation.positive_int(args.max_images, "--max-images")
    settings = read_run(_run_folder(args.run))
    model = serialization.load(args.run)
    dataset = data.load(settings["dataset"], data_dir=settings.get("data_dir"), seed=settings.get("seed", 0))
    result = evaluation.evaluate(model, dataset, split=args.split, binarization=settings.get("binarization", "none"),
                                 k=k, chunk_size=min(k, 500), max_images=max_images)
    print(f"{dataset.display_name}, {args.split} split, {result['images']} images, "
          f"binarization {settings.get('binarization', 'none')}:")
    print(f"  ELBO                        {result['elbo']:10.3f} nats")
    print(f"  log p(x), k = {result['k']:<6} samples {result['log_likelihood']:10.3f} nats")


def sample_command(args):
    import matplotlib

    matplotlib.use("Agg")
    import tensorflow as tf

    from tfvae import plots, serialization, validation

    n = validation.positive_int(args.n, "--n")
    model = serialization.load(args.run)
    if not hasattr(model, "prior"):
        raise CheckpointError(f"the model in {args.run} is a {model.config.kind}, which has no prior to sample from")
    images = model.sample(n, seed=tf.constant([args.seed, 0], tf.int32)).numpy()
    figure = plots.image_grid(images, n_cols=math.ceil(math.sqrt(n)))
    out = Path(args.out)
    if out.parent != Path(""):
        out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=100)
    print(f"wrote {n} samples to {out}")


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


def _write_json(path: Path, values: dict):
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(values, indent=2))
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
