"""Training runs under tf.distribute strategies, each in a fresh process (used by test_distribute.py).

A strategy's devices must be fixed before TensorFlow initializes, so every scenario runs
as `python tests/strategy_runs.py SCENARIO` and prints one JSON line of measurements,
which the tests read and check. Models are tiny (8x8 digits, 32 hidden units, 4 latent
dimensions) so each scenario takes seconds.

Scenarios:
  mirrored     the CPU split into 2 logical devices; MirroredStrategy vs the default strategy.
  multiworker  MultiWorkerMirroredStrategy from a TF_CONFIG naming one worker on localhost.
  mixed        the mixed_float16 policy: build, train one epoch, look at the dtypes.
"""

import dataclasses
import json
import logging
import os
import socket
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
SETTINGS = dict(image_shape=(8, 8), latent_dim=4, hidden_units=32)
LEARNING_RATE = 0.1


def build(models, training, strategy, kind):
    training.set_seed(0)
    with strategy.scope():
        return models.build(kind=kind, **SETTINGS)


def trainable(model):
    return [v.numpy() for v in model.trainable_variables]


def max_difference(a, b):
    import numpy as np

    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


class Messages(logging.Handler):
    """Keeps the tfvae log lines a run writes."""

    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def mirrored():
    from tfvae import distribute

    distribute.split_cpu(2)
    import tensorflow as tf

    from tfvae import data, models, training

    messages = Messages()
    logging.getLogger("tfvae").addHandler(messages)
    digits = data.load("digits")
    # One batch of 100 images: one SGD step, 50 images on each replica.
    one_batch = dataclasses.replace(digits, train=data.Split(digits.train.x[:100], digits.train.y[:100]))
    one_step = dict(epochs=1, optimizer="sgd", learning_rate=LEARNING_RATE, steps_per_execution=1,
                    jit_compile=False, validate=False, verbose=0)
    default, mirror = distribute.strategy("default"), distribute.strategy("mirrored")
    out = {"replicas": mirror.num_replicas_in_sync, "describe": distribute.describe(mirror)}

    # An autoencoder has no noise: one step on 2 replicas must equal one step on the whole batch.
    single, double = build(models, training, default, "autoencoder"), build(models, training, mirror, "autoencoder")
    start = trainable(single)
    out["autoencoder_same_start"] = max_difference(start, trainable(double))
    training.fit(single, one_batch, **one_step)
    training.fit(double, one_batch, **one_step)
    out["autoencoder_step"] = max_difference(start, trainable(single))
    out["autoencoder_difference"] = max_difference(trainable(single), trainable(double))

    # A VAE's replicas draw different noise (the replica id is part of the seed), so the
    # reference is the gradient each replica computes on its half of the batch with its
    # own seed, summed over replicas with each loss divided by 2, applied by hand.
    double = build(models, training, mirror, "vae")
    reference = build(models, training, default, "vae")
    start = trainable(reference)
    training.fit(double, one_batch, **one_step)
    x = next(iter(one_batch.pipeline("train", batch_size=100, seed=0, epoch=0)))
    with tf.GradientTape() as tape:
        loss = 0.0
        for replica, half in enumerate((x[:50], x[50:])):
            seed = tf.constant([reference.config.seed * 1000 + replica, 1], tf.int32)
            loss += reference.loss_terms(half, seed=seed)["loss"] / 2
    for variable, gradient in zip(reference.trainable_variables, tape.gradient(loss, reference.trainable_variables)):
        variable.assign_sub(LEARNING_RATE * gradient)
    out["vae_step"] = max_difference(start, trainable(reference))
    out["vae_difference"] = max_difference(trainable(reference), trainable(double))
    out["vae_seed_counter"] = int(double.seed_counter.numpy())

    # Several epochs with fit's defaults (XLA, several steps per call), which it must
    # replace by settings Keras accepts under a mirrored strategy, and say so.
    model = build(models, training, mirror, "vae")
    history = training.fit(model, digits, epochs=4, binarization="dynamic", verbose=0)
    out["losses"] = history["loss"]
    out["val_elbo"] = history["val_elbo"]
    out["log"] = messages.lines
    return out


def multiworker():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"localhost:{port}"]},
                                          "task": {"type": "worker", "index": 0}})
    from tfvae import data, distribute, models, training

    strategy = distribute.strategy("auto")
    model = build(models, training, strategy, "vae")
    history = training.fit(model, data.load("digits"), epochs=1, binarization="dynamic", verbose=0)
    return {"strategy": type(strategy).__name__, "replicas": strategy.num_replicas_in_sync,
            "describe": distribute.describe(strategy), "losses": history["loss"]}


def mirrored_one_device():
    import tensorflow as tf

    from tfvae import data, models, training

    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    model = build(models, training, strategy, "vae")
    history = training.fit(model, data.load("digits"), epochs=2, binarization="dynamic", verbose=0)
    return {"replicas": strategy.num_replicas_in_sync, "losses": history["loss"]}


def mixed():
    import numpy as np

    from tfvae import data, models, training

    digits = data.load("digits")
    training.use_mixed_precision()
    try:
        model = build(models, training, distribute_default(), "vae")
        history = training.fit(model, digits, epochs=1, binarization="dynamic", verbose=0)
        x = digits.binarized("test")[:10]
        q, p = model.encode(x), model.decode(model.encode(x).sample(seed=1))
        out = {
            "policy": model.dtype_policy.name,
            "variable_dtypes": sorted({v.dtype for v in model.trainable_variables}),
            "compute_dtype": model.encoder.layers[-1].compute_dtype,
            "q_dtype": q.dtype.name, "p_dtype": p.dtype.name,
            "elbo_dtype": model.elbo(x).elbo.dtype.name,
            "losses": history["loss"], "val_elbo": history["val_elbo"],
            "optimizer": type(model.optimizer).__name__,
            "elbo_finite": bool(np.all(np.isfinite(model.elbo(x).elbo.numpy()))),
        }
    finally:
        training.use_mixed_precision(False)
    import keras

    out["policy_after_reset"] = keras.mixed_precision.global_policy().name
    return out


def distribute_default():
    from tfvae import distribute

    return distribute.strategy("default")


if __name__ == "__main__":
    result = {"mirrored": mirrored, "mirrored_one_device": mirrored_one_device,
              "multiworker": multiworker, "mixed": mixed}[sys.argv[1]]()
    print(json.dumps(result))
