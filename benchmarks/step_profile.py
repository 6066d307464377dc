"""Where a training step of the paper's MLP VAE spends its time: a profile by subtraction.

`train_throughput.py` says how far `tfvae.training.fit` is from the matrix products and the
Adam update a step cannot avoid; this script says where the rest goes. It times, on the same
model and minibatches (784-500-20, Bernoulli, L = 1, batch 100), one compiled program per
group of 100 minibatches, as `fit` runs them (XLA, a `tf.while_loop` over the group, no
Python in between), doing successively more of a step:

1. forward: the loss (`model.loss_terms`): encoder, noise, decoder, log-likelihood, KL;
2. + backward: the gradient of every weight as well (used, so XLA cannot drop it);
3. + Adam: the full step, the optimizer's update applied (the model's own `train_step`);
4. fit: `tfvae.training.fit`, per step, with its data pipeline, metrics and callbacks.

The differences are the costs of the backward pass (2 - 1), of the Adam update (3 - 2) and
of everything `fit` adds around the compiled steps (4 - 3). Beside them: the matrix products
alone and the Adam update alone, timed as `train_throughput.py` times its bounds (c) and (d).
Each part is measured in several rounds; the median and the best are printed, per step, in
wall-clock milliseconds. Results go to benchmarks/results/step_profile.json.

Run: python benchmarks/step_profile.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TFVAE_NO_PROGRESS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import train_throughput as bench  # noqa: E402  (the model, clocks and bounds)
from tfvae import data, distribute, training  # noqa: E402

GROUP = 100  # minibatches per compiled call, as fit runs them
RESULTS = Path(__file__).resolve().parent / "results" / "step_profile.json"


def compiled_group(model, part: str):
    """One XLA program running `part` of a training step on each minibatch of a group."""
    variables = model.trainable_variables

    def forward(x):
        return model.loss_terms(x, seed=model.next_seed())["loss"]

    def forward_backward(x):
        with tf.GradientTape() as tape:
            loss = forward(x)
        # Every gradient feeds the result, so none of the backward pass can be left out.
        return loss + 1e-30 * tf.add_n([tf.reduce_sum(g) for g in tape.gradient(loss, variables)])

    @tf.function(jit_compile=True)
    def run(group):
        if part == "adam":
            model.train_step(group)  # the model's own step: forward, backward, Adam, metrics
            return tf.constant(0.0)
        step = forward if part == "forward" else forward_backward

        def body(i, total):
            return i + 1, total + step(group[i])
        return tf.while_loop(lambda i, _: i < tf.shape(group)[0], body, [tf.constant(0), tf.constant(0.0)])[1]

    return run


def seconds_per_step(run, group, rounds: int) -> list[float]:
    """Wall-clock seconds per minibatch of `run` over `group`, one number per round (after compiling)."""
    float(run(group))  # compile and warm up
    laps = []
    for _ in range(rounds):
        clock = bench.Clock()
        float(run(group))
        laps.append(clock.lap()[0] / GROUP)
    return laps


def fit_seconds_per_step(ds, rounds: int) -> list[float]:
    """Wall-clock seconds per step of `tfvae.training.fit`, one epoch per round, after a first (compiling) epoch."""
    clock = bench.EpochClock()
    training.fit(bench.paper_model(), ds, epochs=rounds + 1, batch_size=bench.BATCH, binarization="static",
                 validate=False, verbose=0, callbacks=[clock])
    steps = -(-len(ds.train) // bench.BATCH)
    return [wall / steps for wall, _ in clock.laps[1:]]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="measurements of each part")
    parser.add_argument("--images", type=int, default=20000, help="training images per epoch for fit")
    args = parser.parse_args()
    if args.rounds < 1 or args.images < GROUP * bench.BATCH:
        parser.error(f"--rounds must be >= 1 and --images >= {GROUP * bench.BATCH:,} (one group of minibatches)")

    ds = data.load("fashion_mnist", max_train=args.images)
    images = ds.binarized("train")[:GROUP * bench.BATCH]
    group = tf.constant(images.reshape(GROUP, bench.BATCH, 28, 28))

    laps = {}
    for part in ("forward", "backward", "adam"):
        model = bench.paper_model()
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        model.optimizer.build(model.trainable_variables)
        laps[part] = seconds_per_step(compiled_group(model, part), group, args.rounds)
    laps["fit"] = fit_seconds_per_step(ds, args.rounds)
    model = bench.paper_model()
    shapes = bench.matmul_shapes(model)
    flops = bench.flops_per_image(shapes) * bench.BATCH
    laps["matmul_bound"] = [flops / bench.matmul_rate(shapes)[0] for _ in range(args.rounds)]
    laps["adam_bound"] = [bench.adam_update_seconds(model)[0] for _ in range(args.rounds)]

    ms = {k: {"median": 1e3 * statistics.median(v), "best": 1e3 * min(v), "all": [round(1e3 * t, 3) for t in v]}
          for k, v in laps.items()}
    rows = [
        ("forward (loss only)", ms["forward"]["median"], ms["forward"]["median"]),
        ("backward pass", ms["backward"]["median"] - ms["forward"]["median"], ms["backward"]["median"]),
        ("Adam update", ms["adam"]["median"] - ms["backward"]["median"], ms["adam"]["median"]),
        ("fit's own work", ms["fit"]["median"] - ms["adam"]["median"], ms["fit"]["median"]),
    ]
    result = {
        "device": distribute.describe(tf.distribute.get_strategy()), "cpu": bench.cpu_name(), "cores": os.cpu_count(),
        "tensorflow": tf.__version__, "keras": keras.__version__, "load_average": os.getloadavg()[0],
        "batch_size": bench.BATCH, "steps_per_call": GROUP, "ms_per_step": ms,
        "parts_ms": {name: part for name, part, _ in rows},
    }
    print(f"device: {result['device']}; {result['cpu']}, {result['cores']} cores; TF {tf.__version__}")
    print(f"784-500-20 MLP VAE, batch {bench.BATCH}, {GROUP} steps per compiled call; medians of "
          f"{args.rounds} rounds, ms per step")
    print(f"{'part':<24}{'adds (ms)':>12}{'running total':>16}{'share of fit':>14}")
    for name, part, total in rows:
        print(f"{name:<24}{part:>12.3f}{total:>16.3f}{100 * part / ms['fit']['median']:>13.0f}%")
    print(f"{'matmul bound':<24}{ms['matmul_bound']['median']:>12.3f}   (the products of forward and backward)")
    print(f"{'Adam bound':<24}{ms['adam_bound']['median']:>12.3f}   (seven weight-sized arrays streamed)")
    products_and_rest = ms["backward"]["median"] - ms["matmul_bound"]["median"]
    print(f"forward + backward beyond their products: {products_and_rest:.3f} ms "
          f"({100 * products_and_rest / ms['fit']['median']:.0f}% of fit's step)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
