"""Speed of the k = 5000 log-likelihood estimate, against the matrix products it cannot avoid.

`tfvae.objectives.marginal_log_likelihood` estimates log p(x) by importance sampling
(eq. eq-is-loglik): per image, the encoder runs once and the decoder k times. For the
paper's MNIST model (784-500-d MLP, tanh hidden layer, Bernoulli pixels) one importance
sample costs the decoder's two products, d x H and H x D multiply-adds, 2(dH + HD) flops
(0.80 Mflop for d = 20); the encoder's 2(DH + 2dH) flops per image are shared by its k
samples. Everything else (the Gaussian and Bernoulli log-densities, the log-sum-exp) is
elementwise.

The bound: this CPU's measured rate on exactly those products, at the shapes the estimate
uses (the samples it decodes at once, `objectives.DECODED_ROWS // batch_size` of each of
`batch_size` images, out of a chunk of `chunk_size`), warm, with
no Python in the loop, compiled both by XLA and by TensorFlow's graph (oneDNN's kernels),
whichever is faster. The estimate cannot be faster than its products alone, so samples
per second over the bound's is the fraction of the CPU it uses.

Beside it, a closer bound: the products plus the elementwise work a sample cannot avoid,
the hidden layer's tanh and one softplus per pixel (`elementwise_seconds`).

Every call of `marginal_log_likelihood` has a fixed cost of a fraction of a second: it traces
and compiles its graph anew (the script times a call on one image with k = 1 apart). A round
estimates `--images` images in one call, 1,000 by default, so that this cost is a few percent of
the round, as it is in the book's calls on thousands of test images; on 100 images it is a
fifth or more.

Then where the time goes: each stage (the draws, the decoder's logits, the Bernoulli
log-density) timed alone, per sample, and the rest, what the whole estimate takes beyond them.

The script prints, for each of `--rounds` rounds, importance samples per second, and then
their min / median / max, the bounds, the median's fraction of each, and the wall time the
median rate needs for all 10,000 MNIST test images at k = 5000, the figure the book's
chapters plan their budgets with. The weights are the reference run `aevb_mnist_d20` when
d = 20 (the speed does not depend on them) and the images random binary 28x28 ones (nor on
them), so the script needs no data set. Results go to benchmarks/results/loglik_throughput.json.

Run: python benchmarks/loglik_throughput.py [--rounds 5] [--images 1000] [--latent-dim 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402
from train_throughput import Clock, cpu_name  # noqa: E402  (this folder's training benchmark)

from tfvae import distribute, models, objectives, reference, training  # noqa: E402

D, H = 784, 500
K = 5000
TEST_IMAGES = 10_000
tfd = tfp.distributions
RESULTS = Path(__file__).resolve().parent / "results" / "loglik_throughput.json"


def paper_model(latent_dim: int):
    """The 784-500-d MLP VAE: the reference run's trained weights for d = 20, fresh ones otherwise."""
    if latent_dim == 20 and "aevb_mnist_d20" in reference.names():
        return reference.load("aevb_mnist_d20").model()
    training.set_seed(0)
    return models.build(image_shape=(28, 28), latent_dim=latent_dim, hidden_units=H, likelihood="bernoulli")


def decoder_rate(latent_dim: int, rows: int, *, xla: bool, seconds: float = 3.0) -> float:
    """Flops per second of the decoder's two products for `rows` latent vectors at once, compiled and warm.

    With `xla`, XLA compiles the products; without, TensorFlow's graph runs them with its
    own kernels (oneDNN on x86). The estimate runs its products the second way and fuses
    only the elementwise work with XLA, so the bound is the faster of the two.
    """
    rng = np.random.default_rng(0)
    z = tf.constant(rng.standard_normal((rows, latent_dim)), tf.float32)
    w1 = tf.constant(rng.standard_normal((latent_dim, H)) * 0.1, tf.float32)
    w2 = tf.constant(rng.standard_normal((H, D)) * 0.05, tf.float32)
    steps = 10

    @tf.function(jit_compile=xla)
    def products(scale):
        # The carried scale makes each iteration's input new, so XLA cannot hoist the products out of the loop.
        def body(i, s):
            total = tf.reduce_sum(tf.matmul(tf.matmul(z * s, w1), w2))
            return i + 1, s + 1e-30 * total
        return tf.while_loop(lambda i, s: i < steps, body, [tf.constant(0), scale])[1]

    products(tf.constant(1.0)).numpy()  # compile
    flops = steps * 2 * rows * (latent_dim * H + H * D)
    calls, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        products(tf.constant(1.0)).numpy()
        calls += 1
    return calls * flops / (time.perf_counter() - began)


def elementwise_seconds(rows: int, seconds: float = 3.0) -> float:
    """Seconds per importance sample of the decoder's unavoidable elementwise work, `rows` samples at once.

    Per sample: the hidden layer's H tanh and the D pixels' Bernoulli log-density from their
    logits, one softplus (an exp and a log) per pixel, summed, by `fused_log_likelihood`
    itself; compiled by XLA, warm, in a loop with no Python. Not in the products bound; with
    it, the bound becomes the closest the estimate could come on this CPU.
    """
    rng = np.random.default_rng(0)
    hidden = tf.constant(rng.standard_normal((rows, H)), tf.float32)
    logits = tf.constant(rng.standard_normal((rows, D)) * 3, tf.float32)
    x = tf.constant(rng.random((1, D)) < 0.13, tf.float32)
    steps = 10

    @tf.function(jit_compile=True)
    def elementwise(scale):
        def body(i, s):
            pixels = tfd.Independent(tfd.Bernoulli(logits=logits * s, dtype=tf.float32), reinterpreted_batch_ndims=1)
            log_lik = objectives.fused_log_likelihood(pixels, x)
            total = tf.reduce_sum(log_lik) + tf.reduce_sum(tf.tanh(hidden * s))
            return i + 1, s + 1e-30 * total
        return tf.while_loop(lambda i, s: i < steps, body, [tf.constant(0), scale])[1]

    elementwise(tf.constant(1.0)).numpy()  # compile
    calls, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        elementwise(tf.constant(1.0)).numpy()
        calls += 1
    return (time.perf_counter() - began) / (calls * steps * rows)


def stage_seconds(model, images, *, batch_size: int, chunk_size: int, rows: int, repeats: int = 20) -> dict:
    """Seconds per importance sample of each stage of the estimate, each timed alone, warm, at the estimate's shapes.

    - "draws": z ~ q(z|x) for one chunk (`chunk_size` samples of `batch_size` images), and
      log q(z|x) + log p(z);
    - "decoder": the decoder's logits for `rows` (sample, image) pairs, as the model computes
      them (the two products, the biases, the tanh);
    - "log-density": `fused_log_likelihood` of the images under those logits.

    Each is a compiled function called `repeats` times; one call takes milliseconds, so the
    call's own overhead is negligible. What the whole estimate takes beyond their sum is
    the loop around them (stacking the pieces, the log-sum-exp, the graph's dispatch).
    """
    x = tf.constant(images[:batch_size])
    q = model.encode(x)
    z_chunk = q.sample(chunk_size, seed=(0, 0))
    z_piece = tf.reshape(z_chunk, (-1, batch_size, z_chunk.shape[-1]))[:max(1, rows // batch_size)]
    p_x = model.decode(z_piece)  # its logits, computed once, for timing the log-density alone

    def draws():
        z = q.sample(chunk_size)
        return tf.reduce_sum(q.log_prob(z) + model.prior.log_prob(z))

    stages = {
        "draws": (draws, chunk_size * batch_size),
        "decoder": (lambda: tf.reduce_sum(model.decode(z_piece).distribution.logits), z_piece.shape[0] * batch_size),
        "log-density": (lambda: tf.reduce_sum(objectives.fused_log_likelihood(p_x, x)), z_piece.shape[0] * batch_size),
    }
    seconds = {}
    for name, (stage, samples) in stages.items():
        compiled = tf.function(stage)
        compiled().numpy()
        began = time.perf_counter()
        for _ in range(repeats):
            compiled().numpy()
        seconds[name] = (time.perf_counter() - began) / (repeats * samples)
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed estimates (default: %(default)s)")
    parser.add_argument("--images", type=int, default=1000, help="images per timed estimate (default: %(default)s)")
    parser.add_argument("--latent-dim", type=int, default=20, help="d of the 784-500-d model (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=100, help="images per call (default: %(default)s)")
    parser.add_argument("--chunk-size", type=int, default=500, help="samples per image per chunk (default: %(default)s)")
    args = parser.parse_args()

    model, d = paper_model(args.latent_dim), args.latent_dim
    images = (np.random.default_rng(0).random((args.images, 28, 28)) < 0.13).astype(np.float32)  # MNIST's ink

    def estimate():
        return objectives.marginal_log_likelihood(model, images, k=K, batch_size=args.batch_size,
                                                  chunk_size=args.chunk_size)

    estimate()  # warm up
    set_up = []  # a call's fixed cost: tracing and compiling its graph, on one image with k = 1
    for _ in range(3):
        began = time.perf_counter()
        objectives.marginal_log_likelihood(model, images[:1], k=1, batch_size=args.batch_size, chunk_size=args.chunk_size)
        set_up.append(time.perf_counter() - began)
    load_before = os.getloadavg()[0]
    samples, rates, cpu_rates = args.images * K, [], []
    for round_ in range(args.rounds):
        clock = Clock()
        estimate()
        wall, cpu = clock.lap()
        rates.append(samples / wall)
        cpu_rates.append(samples / cpu)
        print(f"round {round_ + 1}/{args.rounds}: {rates[-1]:,.0f} importance samples/s", flush=True)
    rows = min(args.batch_size, args.images) * min(args.chunk_size, max(1, objectives.DECODED_ROWS // args.batch_size))
    rates_by_compiler = {"xla": decoder_rate(d, rows, xla=True), "graph": decoder_rate(d, rows, xla=False)}
    bound_flops = max(rates_by_compiler.values())
    flops_per_sample = 2 * (d * H + H * D) + 2 * (D * H + 2 * d * H) / K
    bound = bound_flops / flops_per_sample
    bound_with_elementwise = 1 / (1 / bound + elementwise_seconds(rows))
    median = statistics.median(rates)
    stages = stage_seconds(model, images, batch_size=args.batch_size, chunk_size=args.chunk_size, rows=rows)

    result = {
        "device": distribute.describe(tf.distribute.get_strategy()), "cpu": cpu_name(), "cores": os.cpu_count(),
        "tensorflow": tf.__version__, "keras": keras.__version__,
        "load_average": {"before": load_before, "after": os.getloadavg()[0]},
        "model": f"784-{H}-{d} MLP VAE, Bernoulli", "k": K, "images": args.images,
        "batch_size": args.batch_size, "chunk_size": args.chunk_size, "flops_per_sample": flops_per_sample,
        "samples_per_second": {"min": min(rates), "median": median, "max": max(rates),
                               "all": [round(r) for r in rates]},
        "samples_per_cpu_second_median": statistics.median(cpu_rates),
        "bound_samples_per_second": bound, "bound_gflops": bound_flops / 1e9,
        "product_gflops": {name: rate / 1e9 for name, rate in rates_by_compiler.items()},
        "median_fraction_of_bound": median / bound,
        "bound_with_elementwise_samples_per_second": bound_with_elementwise,
        "median_fraction_of_bound_with_elementwise": median / bound_with_elementwise,
        "seconds_for_mnist_test_set": TEST_IMAGES * K / median,
        "seconds_to_set_up_a_call": statistics.median(set_up),
        "microseconds_per_sample": {"estimate (median)": 1e6 / median, "products (bound)": 1e6 / bound,
                                    **{name: 1e6 * s for name, s in stages.items()},
                                    "the rest (the loop around them)": 1e6 * (1 / median - sum(stages.values()))},
    }
    print(f"\ndevice: {result['device']}; {result['cpu']}, {result['cores']} cores; TF {tf.__version__}")
    print(f"model: {result['model']}; k = {K}, {args.images} images, batches of {args.batch_size}, "
          f"chunks of {args.chunk_size} samples; {flops_per_sample / 1e6:.3f} Mflop per importance sample")
    print(f"each call traces and compiles its graph first: {statistics.median(set_up):.2f} s (median of 3), "
          f"included in every round")
    print(f"importance samples/s: min {min(rates):,.0f}, median {median:,.0f}, max {max(rates):,.0f}")
    print(f"decoder products: {rates_by_compiler['xla'] / 1e9:.1f} Gflop/s compiled by XLA, "
          f"{rates_by_compiler['graph'] / 1e9:.1f} Gflop/s by TensorFlow's graph")
    print(f"bound (the faster, {result['bound_gflops']:.1f} Gflop/s): {bound:,.0f} samples/s; "
          f"median = {100 * result['median_fraction_of_bound']:.0f}% of it")
    print(f"with the elementwise work (H tanh and D softplus per sample): {bound_with_elementwise:,.0f} samples/s, "
          f"the products bound's {100 * bound_with_elementwise / bound:.0f}%; "
          f"median = {100 * result['median_fraction_of_bound_with_elementwise']:.0f}% of it")
    print("where a sample's time goes, each stage timed alone (microseconds per importance sample): "
          + "; ".join(f"{name} {value:.2f}" for name, value in result["microseconds_per_sample"].items()))
    print(f"10,000 test images at k = {K}: {result['seconds_for_mnist_test_set']:.0f} s at the median rate")
    if load_before > 0.5 * (os.cpu_count() or 1):
        print(f"note: the load average was {load_before:.1f} on {os.cpu_count()} cores before the run: other "
              "programs were running, so the numbers are low and noisy; measure again on a quiet machine.")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
