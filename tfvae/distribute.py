"""Choosing a `tf.distribute` strategy: one device, the GPUs of one machine, or many machines.

TensorFlow places ops on a GPU by itself when one is visible, so a single-GPU run needs
nothing here. For more:

* ``"mirrored"``: `tf.distribute.MirroredStrategy`, one replica per GPU of this machine
  (or per logical CPU device, which is how the tests exercise it without a GPU);
* ``"multiworker"``: `tf.distribute.MultiWorkerMirroredStrategy`, replicas across
  machines described by the ``TF_CONFIG`` environment variable;
* ``"auto"``: multiworker when ``TF_CONFIG`` is set, mirrored when there are several
  GPUs, else the default (no-op) strategy.

Build the model inside ``strategy.scope()``; `tfvae.training.fit` then runs every step
on all replicas and scales the per-replica loss so gradients sum to the batch gradient.
In a multi-worker run every worker runs the same command; TensorFlow hands each its
part of every minibatch, only the chief (worker 0) writes the run folder, and a worker
that dies makes the others' next collective fail within COLLECTIVE_TIMEOUT_SECONDS
(`tfvae.training.fit` turns that into `WorkerLostError`) instead of hanging them.
"""

from __future__ import annotations

import os

import tensorflow as tf

from tfvae import checks
from tfvae.choices import STRATEGIES  # re-exported: the names checked here

# How long one all-reduce may wait for its peers. A step of the models here takes well
# under a second, even the first one (graph building happens before the collectives), so
# a minute means a peer is gone, not slow.
COLLECTIVE_TIMEOUT_SECONDS = 60


def strategy(name: str = "auto") -> tf.distribute.Strategy:
    """The strategy called `name` (see the module docstring)."""
    checks.one_of(name, STRATEGIES, "strategy")
    if name == "auto":
        if os.environ.get("TF_CONFIG"):
            name = "multiworker"
        elif len(tf.config.list_logical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "default"
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        # Without a timeout, a collective whose peer died waits forever; with one, the
        # survivor's step fails and `tfvae.training.fit` reports the lost worker.
        options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=COLLECTIVE_TIMEOUT_SECONDS)
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    return tf.distribute.get_strategy()


def spans_workers(strategy_: tf.distribute.Strategy) -> bool:
    """Whether `strategy_` syncs replicas in more than one process (a TF_CONFIG naming several tasks)."""
    in_multi_worker_mode = getattr(strategy_.extended, "_in_multi_worker_mode", None)
    return bool(in_multi_worker_mode and in_multi_worker_mode())


def split_cpu(n: int = 2):
    """Split the CPU into `n` logical devices, so a mirrored strategy has `n` replicas without a GPU.

    Must run before TensorFlow initializes its devices (before any op runs).
    """
    n = checks.positive_int(n, "n")
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    return tf.config.list_logical_devices("CPU")


def describe(strategy_: tf.distribute.Strategy) -> str:
    """A line naming the devices a strategy trains on, e.g. 'MirroredStrategy on 2 replicas: /GPU:0, /GPU:1'."""
    try:
        devices = list(strategy_.extended.worker_devices)
    except RuntimeError:  # the default strategy: TF's own placement, a GPU when there is one
        devices = [d.name for d in tf.config.list_logical_devices("GPU")[:1] or tf.config.list_logical_devices("CPU")[:1]]
    names = ", ".join(d.replace("/job:localhost/replica:0/task:0/device:", "/") for d in devices)
    return f"{type(strategy_).__name__} on {strategy_.num_replicas_in_sync} replica(s): {names}"
