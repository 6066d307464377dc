"""One worker of a two-worker training run that records what it trained on (used by test_multiworker.py).

    TF_CONFIG=... python tests/multiworker_runs.py OUT.npz

Runs `tfvae.training.fit` under MultiWorkerMirroredStrategy, as `tfvae train --strategy
multiworker` does, but wraps the model's optimizer step so that every minibatch this
worker's replica receives is copied out of the compiled step (a `tf.py_function`), and
writes those minibatches and the final weights to OUT.npz. The command line cannot show
either: only the chief writes, and it writes weights, not batches.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
SETTINGS = dict(image_shape=(8, 8), latent_dim=4, hidden_units=32, seed=3)
EPOCHS = 2


def main(out):
    import numpy as np
    import tensorflow as tf

    from tfvae import data, distribute, models, training

    strategy = distribute.strategy("multiworker")
    training.set_seed(SETTINGS["seed"])
    with strategy.scope():
        model = models.build(kind="vae", **SETTINGS)
    batches = []

    def record(x):
        batches.append(x.numpy())
        return 0

    step = model._optimizer_step

    def recorded_step(x):
        tf.py_function(record, [x], tf.int32)
        return step(x)

    model._optimizer_step = recorded_step
    training.fit(model, data.load("digits", seed=SETTINGS["seed"]), epochs=EPOCHS, batch_size=100,
                 binarization="dynamic", seed=SETTINGS["seed"], jit_compile=False, validate=False, verbose=0)
    arrays = {f"batch{i:04d}": x for i, x in enumerate(batches)}
    arrays.update({f"weight{i:04d}": v.numpy() for i, v in enumerate(model.trainable_variables)})
    np.savez(out, **arrays)


if __name__ == "__main__":
    main(sys.argv[1])
