"""Training throughput of the paper's MLP VAE: tfvae, a plain loop, and three upper bounds.

The model is the paper's MNIST model: 784-500-20 with tanh hidden layers, Bernoulli
pixels, one sample of z per image (L = 1), Adam, minibatches of 100 28x28 images. The
data are the Fashion-MNIST training images from the local IDX files (binarized once,
"static"), which have MNIST's size and format; the speed does not depend on the pictures.

(a) tfvae: `tfvae.training.fit`, timed per epoch from its history; the first epoch, which
    traces and compiles, is left out.
(b) plain loop: the loop of the TensorFlow CVAE tutorial, written here: a `tf.function`
    train step (no XLA) called from Python once per minibatch of a shuffled, batched
    `tf.data` pipeline, computing the same loss (`model.loss_terms`) with the same optimizer.
(c) bound: the matrix products one training step cannot avoid, timed on this CPU. Per
    image, with D = 784 pixels, H = 500 hidden units and d = 20 latent dimensions, the
    forward pass multiplies D x H, H x 2d (encoder), d x H and H x D (decoder): F = 2DH + 3dH
    multiply-adds. The backward pass needs each layer's weight gradient (the same size as
    its forward product) and each layer's input gradient, except the encoder's first (the
    data need no gradient): 2F - DH. Counting 2 flops per multiply-add, one image costs
    2(3F - DH) = 10DH + 18dH = 4.1 Mflop. The bound is this CPU's measured rate on exactly
    those products (batch 100, compiled with XLA, warm, in a loop with no Python) divided
    by 4.1 Mflop: a training step cannot be faster than its matrix products alone.
(d) matmul + Adam bound: (c) plus what every step must also do besides its products,
    the Adam update: seven arrays of the weights' size (0.8M floats) streamed through
    memory with a few flops per weight, timed on this CPU in a compiled loop.
(e) matmul + Adam + elementwise bound: (d) plus the elementwise work on activations, forward
    and backward (tanh and its derivative, the reparameterized draw and the KL, the Bernoulli
    log-density from the logits and its gradient, the bias gradients), timed the same way.
    It counts everything a step cannot avoid, but it is an estimate rather than a strict
    bound: (c), (d) and the elementwise work are timed as separate programs, each with its
    own dispatch to the thread pool, and a fused step pays those costs once; a round in
    which tfvae beats (e) shows it.

Every round measures (a) to (e) one after the other, and the ratios of tfvae to the others
are taken within each round, so that a machine that is faster or slower for a while (other
programs, or this VM's cores being shared) moves both sides of a ratio together; the
script prints the min, median and max of those per-round ratios and of every rate, per
wall-clock second and per CPU second of this process (all its threads). Results, with the
machine's description, go to benchmarks/results/train_throughput.json.

Run: python benchmarks/train_throughput.py [--rounds 5] [--epochs 2] [--images 55000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TFVAE_NO_PROGRESS", "1")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfvae import data, distribute, models, training  # noqa: E402

BATCH = 100
RESULTS = Path(__file__).resolve().parent / "results" / "train_throughput.json"


def paper_model():
    training.set_seed(0)
    return models.build(image_shape=(28, 28), latent_dim=20, hidden_units=500, likelihood="bernoulli",
                        n_samples=1, analytic_kl=True)


class Clock:
    """Wall-clock and CPU (all threads of this process) seconds since the last `lap`."""

    def __init__(self):
        self.last = (time.perf_counter(), time.process_time())

    def lap(self):
        now = (time.perf_counter(), time.process_time())
        wall, cpu = now[0] - self.last[0], now[1] - self.last[1]
        self.last = now
        return wall, cpu


class EpochClock(keras.callbacks.Callback):
    """Laps at every epoch's end, so an epoch's time includes fit's own work between epochs."""

    def __init__(self):
        super().__init__()
        self.clock, self.laps = Clock(), []

    def on_epoch_end(self, epoch, logs=None):
        self.laps.append(self.clock.lap())


def tfvae_fit(ds, epochs: int) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of each epoch of `tfvae.training.fit` after the first."""
    clock = EpochClock()
    training.fit(paper_model(), ds, epochs=epochs + 1, batch_size=BATCH, binarization="static",
                 validate=False, verbose=0, callbacks=[clock])
    return clock.laps[1:]


def plain_loop(images: np.ndarray, epochs: int) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of each epoch of a per-minibatch `tf.function` loop after the first."""
    model = paper_model()
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    optimizer.build(model.trainable_variables)

    @tf.function
    def train_step(x):
        with tf.GradientTape() as tape:
            loss = model.loss_terms(x, seed=model.next_seed())["loss"]
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    dataset = tf.data.Dataset.from_tensor_slices(images).shuffle(len(images), seed=0).batch(BATCH)
    laps = []
    for _ in range(epochs + 1):
        clock = Clock()
        for x in dataset:
            loss = train_step(x)
        float(loss)  # wait for the last step
        laps.append(clock.lap())
    return laps[1:]


def matmul_shapes(model) -> list[tuple[int, int, int]]:
    """(m, k, n) of every matrix product of one training step on a minibatch of BATCH images."""
    dense = [layer for net in (model.encoder, model.decoder) for layer in net.layers
             if isinstance(layer, keras.layers.Dense)]
    shapes = []
    for i, layer in enumerate(dense):
        n_in, n_out = layer.kernel.shape
        shapes.append((BATCH, n_in, n_out))      # forward: activations x kernel
        shapes.append((n_in, BATCH, n_out))      # weight gradient: activations^T x output gradient
        if i > 0:                                # input gradient; the data need none
            shapes.append((BATCH, n_out, n_in))  # output gradient x kernel^T
    return shapes


def flops_per_image(shapes) -> float:
    return sum(2 * m * k * n for m, k, n in shapes) / BATCH


def matmul_rate(shapes, seconds: float = 2.0) -> tuple[float, float]:
    """Flops per wall-clock second and per CPU second of one training step's products, compiled and warm."""
    rng = np.random.default_rng(0)
    lhs = [tf.constant(rng.standard_normal((m, k)), tf.float32) for m, k, _ in shapes]
    rhs = [tf.constant(rng.standard_normal((k, n)), tf.float32) for _, k, n in shapes]
    steps = 50

    @tf.function(jit_compile=True)
    def products(scale):
        # The carried scale makes every iteration's inputs new, so XLA cannot hoist the
        # products out of the loop; the extra elementwise work is < 0.1% of the products'.
        def body(i, s):
            total = tf.add_n([tf.reduce_sum(tf.matmul(a * s, b)) for a, b in zip(lhs, rhs)])
            return i + 1, s + 1e-30 * total
        return tf.while_loop(lambda i, s: i < steps, body, [tf.constant(0), scale])[1]

    products(tf.constant(1.0)).numpy()  # compile
    flops = steps * sum(2 * m * k * n for m, k, n in shapes)
    calls, clock, began = 0, Clock(), time.perf_counter()
    while time.perf_counter() - began < seconds:
        products(tf.constant(1.0)).numpy()
        calls += 1
    wall, cpu = clock.lap()
    return calls * flops / wall, calls * flops / cpu


def adam_update_seconds(model, seconds: float = 2.0) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one Adam update of `model`'s weights, compiled and warm.

    Every step reads each weight, its gradient and Adam's two moments and writes the weight
    and the moments back: seven arrays of the model's size (0.8M floats for 784-500-20, 22 MB
    a step) streamed through memory, with a square root and a division per weight. Like the
    products, it runs in an XLA loop with no Python; the gradients change every iteration so
    that nothing can be hoisted.
    """
    rng = np.random.default_rng(0)
    shapes = [tuple(v.shape) for v in model.trainable_variables]
    gradients = [tf.constant(rng.standard_normal(shape) * 1e-3, tf.float32) for shape in shapes]
    steps = 50
    b1, b2, lr, eps = 0.9, 0.999, 1e-3, 1e-7

    @tf.function(jit_compile=True)
    def updates(scale):
        def body(i, s, weights, m, v):
            new_w, new_m, new_v = [], [], []
            for g, w, m_, v_ in zip(gradients, weights, m, v):
                g = g * s
                m_ = b1 * m_ + (1 - b1) * g
                v_ = b2 * v_ + (1 - b2) * g * g
                new_w.append(w - lr * m_ / (tf.sqrt(v_) + eps))
                new_m.append(m_)
                new_v.append(v_)
            return i + 1, s * (1 + 1e-7), new_w, new_m, new_v
        zeros = [tf.zeros(shape) for shape in shapes]
        return tf.while_loop(lambda i, *_: i < steps, body, [tf.constant(0), scale, zeros, zeros, zeros])[2]

    updates(tf.constant(1.0))  # compile
    calls, clock, began = 0, Clock(), time.perf_counter()
    while time.perf_counter() - began < seconds:
        float(tf.reduce_sum(updates(tf.constant(1.0))[0]))
        calls += 1
    wall, cpu = clock.lap()
    return wall / (calls * steps), cpu / (calls * steps)


def elementwise_seconds(seconds: float = 2.0) -> tuple[float, float]:
    """Wall-clock and CPU seconds of the elementwise work of one training step, compiled and warm.

    Per minibatch of B = 100: forward, the two tanh layers (B x H each), the reparameterized
    draw and the Gaussian KL (B x d), and the Bernoulli log-density of the pixels from their
    logits (B x D, a softplus and a product); backward, the tanh derivatives, the logits'
    gradient x - sigmoid(l), and the bias gradients (column sums of each layer's output
    gradient). Timed like the products, in an XLA loop with no Python, inputs changing
    every iteration.
    """
    B, D, H, d = BATCH, 784, 500, 20
    rng = np.random.default_rng(0)
    pre1, pre2 = (tf.constant(rng.standard_normal((B, H)), tf.float32) for _ in range(2))
    logits, x = tf.constant(rng.standard_normal((B, D)), tf.float32), tf.constant(rng.random((B, D)) < 0.2, tf.float32)
    mean, log_var = (tf.constant(rng.standard_normal((B, d)), tf.float32) for _ in range(2))
    steps = 50

    @tf.function(jit_compile=True)
    def elementwise(scale):
        def body(i, s):
            h1, h2 = tf.tanh(pre1 * s), tf.tanh(pre2 * s)
            noise = tf.random.stateless_normal((B, d), seed=tf.stack([i, 0]))
            z = mean * s + tf.exp(0.5 * log_var) * noise
            kl = 0.5 * tf.reduce_sum(tf.exp(log_var) + tf.square(mean * s) - 1.0 - log_var)
            l = logits * s
            log_lik = tf.reduce_sum(x * l - tf.nn.softplus(l))
            g_logits = x - tf.sigmoid(l)
            g2 = (1 - h2 * h2) * h1
            g1 = (1 - h1 * h1) * h2
            bias_grads = [tf.reduce_sum(g, axis=0) for g in (g_logits, g2, g1, z)]
            total = log_lik + kl + tf.add_n([tf.reduce_sum(g) for g in bias_grads])
            return i + 1, s + 1e-30 * total
        return tf.while_loop(lambda i, s: i < steps, body, [tf.constant(0), scale])[1]

    elementwise(tf.constant(1.0)).numpy()  # compile
    calls, clock, began = 0, Clock(), time.perf_counter()
    while time.perf_counter() - began < seconds:
        elementwise(tf.constant(1.0)).numpy()
        calls += 1
    wall, cpu = clock.lap()
    return wall / (calls * steps), cpu / (calls * steps)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def summary(values):
    return {"best": max(values), "median": statistics.median(values), "worst": min(values),
            "all": [round(v, 1) for v in values]}


KINDS = {"tfvae": "(a) tfvae.training.fit", "plain_loop": "(b) plain tf.function loop",
         "bound": "(c) matmul bound", "bound_with_adam": "(d) matmul + Adam bound",
         "bound_full": "(e) matmul + Adam + elementwise"}
BOUNDS = ("bound", "bound_with_adam", "bound_full")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="measurement rounds, each runs (a) to (e)")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per round for (a) and (b)")
    parser.add_argument("--images", type=int, default=55000, help="training images per epoch (at most 55,000)")
    args = parser.parse_args()

    ds = data.load("fashion_mnist", max_train=args.images)
    images = ds.binarized("train")  # the same static binarization fit(binarization="static") uses
    model = paper_model()
    shapes = matmul_shapes(model)
    per_image = flops_per_image(shapes)
    D, H, d = 784, 500, 20
    assert per_image == 10 * D * H + 18 * d * H, per_image  # the formula in the docstring

    load_before = os.getloadavg()[0]
    laps = {k: [] for k in KINDS}
    round_ratios = []  # per round: tfvae's median epoch against the plain loop's and the bounds of that round
    n = len(ds.train)
    steps = math.ceil(n / BATCH)
    for round_ in range(args.rounds):
        tfvae_laps, plain_laps = tfvae_fit(ds, args.epochs), plain_loop(images, args.epochs)
        laps["tfvae"] += tfvae_laps
        laps["plain_loop"] += plain_laps
        # The bounds as (wall, CPU) seconds per epoch: an epoch's flops at the measured rates,
        # then once per minibatch the Adam update, then the elementwise work.
        products = tuple(n * per_image / rate for rate in matmul_rate(shapes))
        with_adam = tuple(t + steps * a for t, a in zip(products, adam_update_seconds(model)))
        full = tuple(t + steps * e for t, e in zip(with_adam, elementwise_seconds()))
        for key, lap in (("bound", products), ("bound_with_adam", with_adam), ("bound_full", full)):
            laps[key].append(lap)
        tfvae_wall = statistics.median(w for w, _ in tfvae_laps)
        plain_wall = statistics.median(w for w, _ in plain_laps)
        round_ratios.append({"tfvae/plain_loop": plain_wall / tfvae_wall,
                             **{f"tfvae/{key}": laps[key][-1][0] / tfvae_wall for key in BOUNDS},
                             # The most any loop could gain over the plain loop: bound (e) against it.
                             "bound_full/plain_loop": plain_wall / laps["bound_full"][-1][0]})
        r = round_ratios[-1]
        print(f"round {round_ + 1}/{args.rounds} (images/s): tfvae {n / tfvae_wall:,.0f}, "
              f"{r['tfvae/plain_loop']:.2f}x the plain loop, {100 * r['tfvae/bound_with_adam']:.0f}% of (d), "
              f"{100 * r['tfvae/bound_full']:.0f}% of (e)", flush=True)
    load_after = os.getloadavg()[0]

    def rates(which):  # images per second (wall) or per CPU second, from (wall, cpu) laps
        return {k: summary([n / lap[which] for lap in v]) for k, v in laps.items()}

    result = {
        "device": distribute.describe(tf.distribute.get_strategy()),
        "cpu": cpu_name(), "cores": os.cpu_count(), "platform": platform.platform(),
        "tensorflow": tf.__version__, "keras": keras.__version__,
        "load_average": {"before": load_before, "after": load_after},
        "images_per_epoch": n, "batch_size": BATCH, "flops_per_image": per_image,
        "images_per_second": rates(0),
        "images_per_cpu_second": rates(1),
        "ratios_per_round": {key: summary([r[key] for r in round_ratios]) for key in round_ratios[0]},
    }
    result["matmul_gflops"] = result["images_per_second"]["bound"]["best"] * per_image / 1e9
    for unit in ("images_per_second", "images_per_cpu_second"):
        for kind, key in (("best", "ratios_of_best"), ("median", "ratios_of_medians")):
            value = {k: result[unit][k][kind] for k in laps}
            result[unit][key] = {f"tfvae/{other}": value["tfvae"] / value[other] for other in ("plain_loop",) + BOUNDS}

    print(f"\ndevice: {result['device']}; {result['cpu']}, {result['cores']} cores; "
          f"TF {tf.__version__}, Keras {keras.__version__}")
    print(f"model: 784-500-20 MLP VAE, Bernoulli, L=1, Adam, batch {BATCH}, {n:,} images per epoch; "
          f"{per_image / 1e6:.2f} Mflop per image (10DH + 18dH); matmul rate {result['matmul_gflops']:.1f} Gflop/s")
    print(f"{'images/s':<34}{'min':>9}{'median':>9}{'max':>9}   {'per CPU-s: median':>18}")
    for key, label in KINDS.items():
        wall, cpu = result["images_per_second"][key], result["images_per_cpu_second"][key]
        print(f"{label:<34}{wall['worst']:>9,.0f}{wall['median']:>9,.0f}{wall['best']:>9,.0f}{cpu['median']:>21,.0f}")
    print(f"\nratios per round ({args.rounds} rounds; each round's epochs and bounds measured together)")
    print(f"{'':<34}{'min':>9}{'median':>9}{'max':>9}")
    for key, label in (("tfvae/plain_loop", "tfvae / plain loop"), ("tfvae/bound", "tfvae / matmul bound (c)"),
                       ("tfvae/bound_with_adam", "tfvae / matmul + Adam bound (d)"),
                       ("tfvae/bound_full", "tfvae / + elementwise bound (e)"),
                       ("bound_full/plain_loop", "bound (e) / plain loop: the most")):
        r = result["ratios_per_round"][key]
        fmt = (lambda v: f"{v:.2f}x") if key.endswith("plain_loop") else (lambda v: f"{100 * v:.0f}%")
        print(f"{label:<34}{fmt(r['worst']):>9}{fmt(r['median']):>9}{fmt(r['best']):>9}")
    print("(the last row: how many times faster than the plain loop any training loop could be on this machine)")
    if load_before > 0.5 * (os.cpu_count() or 1):  # "after" includes this benchmark itself
        print(f"note: the load average was {load_before:.1f} on {os.cpu_count()} cores before the run: other "
              "programs were running, so the wall-clock numbers are low and noisy (CPU-time numbers less so); "
              "measure again on a quiet machine.")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
