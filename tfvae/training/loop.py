"""The one training loop: AEVB (the paper's Algorithm 1) over minibatches, compiled, checkpointed.

`fit` runs Keras' compiled training step on groups of minibatches, one epoch at a time:
the model's train step loops over a group, so XLA compiles many steps into one program
and neither Python nor per-step dispatch slows a small model down. The groups come
straight from NumPy, not through tf.data, which on 2 cores slowed the steps themselves.
After every epoch it writes a checkpoint atomically; `resume=True` continues a killed run
from its last checkpoint with nothing lost, because the data order, the binarization and
the reparameterization noise depend only on (seed, epoch, step). A NaN or infinite loss
stops the run with `TrainingDivergedError`, leaves the last good checkpoint as it was
and puts its weights back into the model.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import math
import shutil
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfvae import checks, distribute, serialization
from tfvae.choices import LR_SCHEDULES, OPTIMIZERS  # re-exported: the names checked here
from tfvae.data import batches_dataset
from tfvae.errors import CheckpointError, InvalidInputError, TrainingDivergedError, WorkerLostError
from tfvae.models import likelihoods
from tfvae.training.callbacks import FiniteLossGuard, Progress, TimeBudget

log = logging.getLogger("tfvae")

# The Keras optimizer each of choices.OPTIMIZERS names.
OPTIMIZER_CLASSES = {"adam": keras.optimizers.Adam, "adagrad": keras.optimizers.Adagrad, "sgd": keras.optimizers.SGD}
COSINE_FINAL_FRACTION = 0.01  # the cosine schedule ends at 1% of the initial step size


def learning_rate_schedule(kind: str, learning_rate: float, total_steps: int):
    """The step size as a function of the optimizer's step t = 0 .. T (T = `total_steps`).

    "constant": `learning_rate` throughout. "cosine": `learning_rate` times
    a + (1 - a) (1 + cos(pi t / T)) / 2 with a = 0.01, which falls smoothly to 1% of it at
    the last step. Large steps early, small ones late: the late ones average out the
    minibatch noise that a constant step keeps in the weights. A function of the step
    counter alone, so a resumed run continues on the same schedule.
    """
    checks.one_of(kind, LR_SCHEDULES, "learning-rate schedule")
    if kind == "constant":
        return learning_rate
    return keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=total_steps,
                                                  alpha=COSINE_FINAL_FRACTION)


def set_seed(seed: int):
    """Seed Python, NumPy and TensorFlow's global generators, so a CPU run repeats exactly.

    TF's op-determinism switch is left off on purpose: Keras turns XLA off under it, and
    on a CPU these models' ops are repeatable without it (the tests check this).
    """
    keras.utils.set_random_seed(int(seed))


def use_mixed_precision(enabled: bool = True):
    """Compute in float16 with float32 weights (the big speed-up on recent GPUs). Call before building a model."""
    keras.mixed_precision.set_global_policy("mixed_float16" if enabled else "float32")


def fit(model, data, *, epochs: int, batch_size: int = 100, learning_rate: float = 1e-3,
        lr_schedule: str = "constant", optimizer: str = "adam", binarization: str = "none", seed: int = 0, out_dir=None,
        resume: bool = False, steps_per_execution: int | None = None, jit_compile: bool | None = None,
        max_seconds: float | None = None, validate: bool = True, callbacks=(), verbose: int = 1) -> dict:
    """Train `model` on `data.train` for `epochs` epochs (in all, counting resumed ones).

    Args:
      model: a tfvae model, built inside the strategy scope it should train under.
      data: a `tfvae.data.ImageDataset`, or a `tfvae.data.SequenceDataset` for a sequence model.
      epochs: total number of epochs; a resumed run trains only the missing ones.
      batch_size: minibatch size M (100 in the paper), across all replicas.
      lr_schedule: "constant" or "cosine" (to 1% of `learning_rate` at the last step of
        `epochs`; see `learning_rate_schedule`).
      optimizer: "adam", "adagrad" (the paper's) or "sgd".
      binarization: "none", "static", "dynamic" or "dequantized" (see `tfvae.data`).
      out_dir: folder for checkpoints (one per epoch) and the final model; None keeps nothing.
        In a multi-worker run only the chief writes there; the other workers read its
        checkpoints when they resume, so out_dir must be a folder all workers see.
      resume: continue from out_dir's latest checkpoint. Without it, a folder that already
        holds checkpoints is an error, so a finished run is never overwritten by accident.
      steps_per_execution: training steps per compiled call; by default up to 100, chosen to
        split the epoch's full minibatches into equal groups when it can (each group size is
        compiled once).
      jit_compile: compile the step with XLA; None (the default) asks `xla_pays`.
        Under a strategy with several replicas, Keras accepts neither XLA nor several steps
        per call, so both are turned off there (with a log line).
      max_seconds: stop after the first compiled call (a group of up to steps_per_execution
        minibatches) that ends this many wall-clock seconds or more after training began,
        compilation included; so two models can be given the same time. The last epoch may
        then be partial: its "seconds" and "images_per_second" count what it ran. None: no limit.
        Not with out_dir: checkpoints record whole epochs, so such a run could not resume exactly.
      validate: evaluate the validation split after each epoch.
      callbacks: extra Keras callbacks (for example KL warm-up).
      verbose: 0 silent, 1 a progress bar (stderr) and a closing line, 2 also a line per epoch.

    Returns:
      The history: a dict of per-epoch lists ("loss", "elbo", "kl", ..., "val_elbo", ...,
      "seconds", "images_per_second"), including epochs before a resume.

    Raises:
      InvalidInputError for bad arguments or bad data; CheckpointError for a missing or
      foreign checkpoint; TrainingDivergedError when the loss becomes NaN or infinite;
      WorkerLostError when a peer of a multi-worker run stops answering.
    """
    epochs = checks.positive_int(epochs, "epochs")
    batch_size = checks.positive_int(batch_size, "batch_size")
    checks.one_of(optimizer, OPTIMIZERS, "optimizer")
    checks.one_of(lr_schedule, LR_SCHEDULES, "learning-rate schedule")
    if not (isinstance(learning_rate, (int, float)) and math.isfinite(learning_rate) and learning_rate > 0):
        raise InvalidInputError(f"learning_rate must be a positive number, got {learning_rate!r}")
    unit_range = model.config.likelihood in likelihoods.UNIT_RANGE or binarization != "none"
    for split in ("train", "validation") if validate else ("train",):
        checks.images(data.split(split).x, f"{data.name} {split} {data.examples}",
                          image_shape=model.image_shape, binary_range=unit_range)

    if max_seconds is not None and not (isinstance(max_seconds, (int, float)) and math.isfinite(max_seconds)
                                        and max_seconds > 0):
        raise InvalidInputError(f"max_seconds must be a positive number of seconds, got {max_seconds!r}")
    if max_seconds is not None and out_dir is not None:
        # Its last epoch may stop partway, and a checkpoint records whole epochs only.
        raise InvalidInputError("max_seconds cannot be combined with out_dir: a run cut by time is not resumable")
    if jit_compile is None:
        jit_compile = xla_pays(model)
    steps_per_epoch = math.ceil(len(data.train) / batch_size)
    steps_per_execution = steps_per_execution or _steps_per_call(len(data.train) // batch_size)
    replicas = model.distribute_strategy.num_replicas_in_sync
    distributed = tf.distribute.has_strategy() or model.distribute_strategy is not tf.distribute.get_strategy()
    if distributed and (jit_compile or steps_per_execution > 1):
        # Keras 3 fails at the first step with either under a tf.distribute strategy, even
        # one with a single replica (XLA reads a variable of another device; its multi-step
        # loop feeds no placeholder; the replica context's merge_call cannot run in a loop).
        log.warning("%d replica(s) under tf.distribute: Keras cannot use XLA or several steps per call there, "
                    "so this run trains one step per call without XLA", replicas)
        jit_compile, steps_per_execution = False, 1
    # Without tf.distribute, fit hands the model groups of `steps_per_execution` minibatches
    # and its train_step loops over them, so XLA compiles a whole group into one program
    # (Keras' own steps_per_execution calls a separately compiled step per minibatch, which
    # is slower). A tf.distribute strategy syncs replicas inside optimizer.apply, which
    # cannot run in a graph loop, so there Keras runs the steps.
    group = 1 if distributed else steps_per_execution
    with model.distribute_strategy.scope():  # the optimizer's slots must be mirrored like the weights
        step_size = learning_rate_schedule(lr_schedule, learning_rate, epochs * steps_per_epoch)
        model.compile(optimizer=OPTIMIZER_CLASSES[optimizer](learning_rate=step_size),
                      jit_compile=jit_compile, steps_per_execution=1 if group > 1 else steps_per_execution)

    run_dir = Path(out_dir) if out_dir is not None else None
    # In a multi-worker run only the chief writes to run_dir; the others read its checkpoints
    # to resume. They still write theirs, to a temporary folder deleted at the end, because
    # saving builds a copy of the model, and creating variables under the strategy is a
    # collective step every worker must take (Keras' convention for non-chief workers too).
    chief = model.distribute_strategy.extended.should_checkpoint
    write_dir = run_dir if chief or run_dir is None else Path(tempfile.mkdtemp(prefix="tfvae-worker-"))
    history, start = {}, 0
    if run_dir is not None:
        latest = serialization.latest_checkpoint(run_dir / serialization.CHECKPOINTS_DIR)
        if latest is not None and not resume:
            raise CheckpointError(f"{run_dir} already holds checkpoints; pass resume=True (--resume) to continue "
                                  "that run, or choose a new output folder")
        if latest is not None:
            state = serialization.restore_checkpoint(model, latest)
            history, start = state["history"], state["epoch"]
            if verbose:
                print(f"resuming from {latest} (epoch {start} of {epochs})")
        elif resume and verbose:
            print(f"no checkpoint in {run_dir}; starting a new run")
    if verbose:
        print(f"training on {distribute.describe(model.distribute_strategy)}")
    log.info("training on %s", distribute.describe(model.distribute_strategy))

    guard = FiniteLossGuard()
    progress = Progress(epochs, steps_per_epoch, group, start) if verbose else None
    budget = None if max_seconds is None else TimeBudget(
        max_seconds, start=time.perf_counter(), images_per_call=group * batch_size, images_per_epoch=len(data.train))
    extra = list(callbacks) + [guard] + ([budget] if budget else []) + ([progress] if progress else [])
    # Validation groups have their own size, so that they too have as few shapes to compile as can be.
    val_steps = 1 if group == 1 else _steps_per_call(len(data.validation) // batch_size)
    val_data = _groups(data.pipeline("validation", batch_size=batch_size, binarization=binarization, seed=seed,
                                     labels=model.trains_on_labels),
                       len(data.validation), batch_size, val_steps) if validate else None

    def epoch_batches(epoch):
        return data.epoch_batches("train", batch_size=batch_size, binarization=binarization, seed=seed, epoch=epoch)

    # Binarizing, shuffling and batching an epoch in NumPy takes about a second for MNIST; a
    # thread prepares the next epoch's minibatches while this one trains. They depend only on
    # (seed, epoch), so preparing them early changes nothing.
    group_step = None  # the compiled step for NumPy-fed groups, made at the first epoch
    preparer = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="tfvae-next-epoch")
    upcoming = preparer.submit(epoch_batches, start) if start < epochs else None
    try:
        for epoch in range(start, epochs):
            began = time.perf_counter()
            batches = upcoming.result()
            upcoming = preparer.submit(epoch_batches, epoch + 1) if epoch + 1 < epochs else None
            if distributed:
                train_data = batches_dataset(batches, labels=model.trains_on_labels)
                with _lost_peers_as_errors(model, epoch):
                    result = model.fit(train_data, epochs=epoch + 1, initial_epoch=epoch, validation_data=val_data,
                                       shuffle=False, verbose=0, callbacks=extra)
                logs = {key: values[-1] for key, values in result.history.items()}
            else:
                groups = _numpy_groups(batches, group, model.trains_on_labels)
                group_step = group_step or _group_step_function(model, groups[0], grouped=group > 1)
                logs = _fit_epoch(model, group_step, groups, epoch, val_data, extra)
            if guard.bad_value is not None:
                _diverged(model, run_dir, epoch, guard.bad_value)
            seconds = time.perf_counter() - began
            for key, value in logs.items():
                history.setdefault(key, []).append(float(value))
            history.setdefault("seconds", []).append(seconds)
            images = budget.images if budget else len(data.train)
            history.setdefault("images_per_second", []).append(images / seconds)
            if verbose >= 2:
                print(_epoch_line(epoch + 1, epochs, history), flush=True)
            if write_dir is not None:
                # Saving builds a model without the optimizer, whose variables a multi-worker
                # strategy broadcasts between the workers: a collective step that a lost peer fails too.
                with _lost_peers_as_errors(model, epoch):
                    serialization.write_checkpoint(model, write_dir, epoch + 1, {"history": history})
            if budget and budget.spent:
                break
        if write_dir is not None:
            with _lost_peers_as_errors(model, epochs - 1):
                serialization.save(model, write_dir / serialization.MODEL_DIR)
    finally:
        preparer.shutdown(cancel_futures=True)
        if progress:
            progress.close()
        if write_dir != run_dir:
            shutil.rmtree(write_dir, ignore_errors=True)
    if verbose and history:
        print(_epoch_line(len(history["loss"]), epochs, history))
    return history


def xla_pays(model) -> bool:
    """Whether `fit` compiles `model`'s training step with XLA when not told: yes, except a conv net on a CPU.

    On a CPU, XLA turns the convolutional networks' training step (`tfvae.networks.conv_encoder`
    and `conv_decoder`) into a program many times slower than TensorFlow's own kernels: 60 s
    against 2.6 s for 5,000 MNIST images (batch 100, 2 cores, TensorFlow 2.21). For the MLPs it
    is the faster of the two (`benchmarks/train_throughput.py`).
    """
    conv = getattr(model.config, "architecture", None) == "conv"
    return not conv or bool(tf.config.list_physical_devices("GPU"))


@contextlib.contextmanager
def _lost_peers_as_errors(model, epoch: int):
    """Turn a collective step that failed because a peer worker is gone into WorkerLostError."""
    try:
        yield
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError) as err:
        if not distribute.spans_workers(model.distribute_strategy):
            raise
        raise WorkerLostError(
            f"a peer worker was lost during epoch {epoch + 1} (its collective step failed: "
            f"{type(err).__name__}); restart every worker with --resume to continue from the last "
            "checkpoint") from None


def _steps_per_call(full_steps: int, most: int = 100) -> int:
    """The largest divisor of `full_steps` up to `most`, unless that is under half of what fits."""
    if full_steps <= 1:
        return 1
    fits = min(most, full_steps)
    divisor = next(k for k in range(fits, 0, -1) if full_steps % k == 0)
    return divisor if 2 * divisor > fits else fits


def _group_step_function(model, group, grouped: bool):
    """The model's `train_step`, compiled as `model.compile` asked, for groups shaped like `group` of any length.

    The first one or two axes (steps, batch) are left open, so one trace serves every group
    shape (XLA still compiles each shape once), where Keras' own train function would trace
    again for each new shape it meets.
    """
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    open_axes = 2 if grouped else 1
    signature = tuple(tf.TensorSpec((None,) * open_axes + part.shape[open_axes:], tf.as_dtype(part.dtype))
                      for part in group)
    return tf.function(model.train_step, input_signature=[signature if model.trains_on_labels else signature[0]],
                       jit_compile=bool(model.jit_compile))


def _fit_epoch(model, step_function, groups, epoch, val_data, callbacks) -> dict:
    """One epoch of Keras' `Model.fit` loop, fed NumPy groups of minibatches instead of a tf.data pipeline.

    The same calls in the same order as `model.fit(epochs=epoch + 1, initial_epoch=epoch)`:
    callbacks at the beginning and end of training, of the epoch and of every compiled call,
    the metrics reset, `stop_training`, validation with `model.evaluate`. Only the feeding
    differs: each group goes into the compiled step as one tensor converted from NumPy on
    this thread. On 2 CPU cores a tf.data iterator handing out the same groups made the
    compiled steps themselves 10-35% slower, and at times ran them on one core for whole
    epochs (benchmarks/train_throughput.py). Returns the epoch's logs, validation's with "val_".
    """
    callbacks = keras.callbacks.CallbackList(callbacks, add_history=False, add_progbar=False, model=model,
                                             verbose=0, epochs=epoch + 1, steps=len(groups))
    model.stop_training = False
    callbacks.on_train_begin()
    model.reset_metrics()
    callbacks.on_epoch_begin(epoch)
    logs = {}
    for step, group in enumerate(groups):
        callbacks.on_train_batch_begin(step)
        tensors = tuple(tf.constant(np.ascontiguousarray(part)) for part in group)
        logs = step_function(tensors if model.trains_on_labels else tensors[0])
        callbacks.on_train_batch_end(step, logs)
        if model.stop_training:
            break
    epoch_logs = {key: float(value) for key, value in logs.items()}
    if val_data is not None:
        val_logs = model.evaluate(val_data, verbose=0, callbacks=callbacks, return_dict=True)
        epoch_logs.update({f"val_{key}": value for key, value in val_logs.items()})
    callbacks.on_epoch_end(epoch, epoch_logs)
    callbacks.on_train_end(logs=epoch_logs)
    return epoch_logs


def _numpy_groups(batches, steps, labels: bool) -> list[tuple]:
    """The minibatches of `ImageDataset.epoch_batches` in groups of `steps`, each ((steps, batch, h, w)[, labels]).

    As `_groups` cuts a pipeline: the full minibatches in groups of `steps` (the last group
    possibly shorter), then the last, smaller minibatch alone, so there are at most three
    group shapes, each compiled once. With `steps` = 1 each group is a single minibatch.
    """
    groups = []
    for xs, ys in batches:
        for i in range(0, len(xs), steps):
            part = (xs[i:i + steps], ys[i:i + steps]) if steps > 1 else (xs[i], ys[i])
            groups.append(part if labels else part[:1])
    return groups


def _groups(batches, n_images, batch_size, steps):
    """The minibatches of one pass in groups of `steps`, each (steps, batch, h, w), for the model's train_step.

    A last, smaller minibatch goes alone in a group of one, so there are at most three
    group shapes, each compiled once for the whole run.
    """
    if steps == 1:
        return batches
    full = n_images // batch_size
    groups = batches.take(full).batch(steps)
    if n_images % batch_size:
        groups = groups.concatenate(batches.skip(full).batch(1))
    return groups


def _diverged(model, run_dir, epoch, value):
    where = f"the loss became {value} during epoch {epoch + 1}"
    last = serialization.latest_checkpoint(run_dir / serialization.CHECKPOINTS_DIR) if run_dir else None
    if last is not None:
        serialization.restore_checkpoint(model, last)
        raise TrainingDivergedError(f"{where}; training stopped. The last good checkpoint, {last}, is kept "
                                    "and its weights are back in the model. Try a lower learning rate.")
    raise TrainingDivergedError(f"{where}; training stopped with no checkpoint to return to "
                                "(pass out_dir to keep one per epoch). Try a lower learning rate.")


def _epoch_line(epoch, epochs, history):
    parts = [f"epoch {epoch}/{epochs}"]
    for key in ("loss", "elbo", "kl", "val_elbo"):
        if key in history:
            parts.append(f"{key} {history[key][-1]:.2f}")
    parts.append(f"{history['images_per_second'][-1]:,.0f} images/s")
    return ", ".join(parts)
