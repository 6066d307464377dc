"""What every tfvae model shares: its config, the registry of kinds, and the training step.

* `ModelConfig`: everything needed to rebuild a model, and nothing that runs code; it is
  what `tfvae.serialization` writes as JSON next to the weights.
* `register` / `KINDS` / `build`: model classes by kind name, and a model from a config.
* `TrainableModel`: what `tfvae.training.fit`, the one training loop, needs of a model: a
  config, metrics, a fresh noise seed per step, and a compiled training step over one
  minibatch or a group of them, around the family's `loss_terms`. The VRNN
  (`tfvae.models.vrnn`) subclasses it directly.
* `LatentVariableModel`: a `TrainableModel` of images with an encoder, a decoder and p(x|z)
  as a `tfd` distribution. The image families (`tfvae.models.vae`, `.gmvae`,
  `.mixture_prior`, ...) subclass it.
"""

from __future__ import annotations

import dataclasses
import math

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import checks, distribute, networks
from tfvae.choices import LIKELIHOODS, OBJECTIVES  # re-exported: the names checked here
from tfvae.models import likelihoods

tfd = tfp.distributions

# Every model kind, by name. Each family's module registers its kinds when `tfvae.models`
# imports it, so a config (or a saved model) can name any of them.
KINDS: dict[str, type] = {}


def register(kind: str):
    """Class decorator: make a model class buildable from a config whose `kind` is `kind`."""
    def add(cls):
        KINDS[kind] = cls
        cls.kind = kind
        return cls
    return add


@dataclasses.dataclass
class ModelConfig:
    """Everything needed to rebuild a model, and nothing that runs code.

    kind: "vae", "autoencoder" (or another registered kind).
    image_shape: (height, width) of one image; for a sequence model, (steps, x_dim) of one sequence.
    latent_dim: size of z.
    architecture: "mlp" (the paper's), "deep_mlp" or "conv" (`tfvae.networks`).
    hidden_units: width of the MLP's hidden layers (500 in the paper for MNIST).
    likelihood: the pixels' p(x|z) (`tfvae.models.likelihoods`): "bernoulli" (binary data),
      "gaussian" (a variance per pixel, output by the decoder), "gaussian_fixed" (variance
      fixed to `observation_scale` squared), "gaussian_shared" (one variance for all pixels,
      learned, starting at `observation_scale` squared) or "discretized_logistic" (8-bit grey levels).
    beta: weight of the KL term in the training objective (1 gives the ELBO). The model
      keeps it in the variable `kl_weight`, which callbacks may change (KL warm-up).
    free_bits: if > 0, each latent dimension's KL counts as at least this many nats in the
      training objective (Kingma et al., 2016), {eq}`eq-free-bits`; the reported ELBO is unchanged.
    n_samples: L, the samples of z per data point in the ELBO estimate.
    analytic_kl: closed-form KL (paper's eq. 7) instead of Monte Carlo (eq. 6).
    objective: "elbo", "iwae" (the importance-weighted bound with `iwae_k` samples) or
      "wake_sleep" (the algorithm the paper compares AEVB with; the reported ELBO is unchanged).
    seed: seeds the reparameterization noise, so a run can be repeated and resumed exactly.
    extra: further settings a registered model kind needs (for example a mixture's size).
    """

    kind: str = "vae"
    image_shape: tuple = (28, 28)
    latent_dim: int = 20
    architecture: str = "mlp"
    hidden_units: int = 500
    likelihood: str = "bernoulli"
    observation_scale: float = 0.1
    beta: float = 1.0
    free_bits: float = 0.0
    n_samples: int = 1
    analytic_kl: bool = True
    objective: str = "elbo"
    iwae_k: int = 1
    seed: int = 0
    extra: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        self.image_shape = tuple(int(s) for s in self.image_shape)
        checks.one_of(self.kind, KINDS, "model kind")
        checks.positive_int(self.latent_dim, "latent_dim")
        checks.positive_int(self.hidden_units, "hidden_units")
        checks.positive_int(self.n_samples, "n_samples")
        checks.positive_int(self.iwae_k, "iwae_k")
        checks.one_of(self.architecture, networks.ARCHITECTURES, "architecture")
        checks.one_of(self.likelihood, LIKELIHOODS, "likelihood")
        checks.one_of(self.objective, OBJECTIVES, "objective")
        if not (math.isfinite(self.beta) and self.beta >= 0):
            raise checks.InvalidInputError(f"beta must be a finite number >= 0, got {self.beta}")
        if not (math.isfinite(self.free_bits) and self.free_bits >= 0):
            raise checks.InvalidInputError(f"free_bits must be a finite number >= 0, got {self.free_bits}")
        if not (math.isfinite(self.observation_scale) and self.observation_scale > 0):
            raise checks.InvalidInputError(f"observation_scale must be a finite number > 0, got {self.observation_scale}")
        if len(self.image_shape) != 2 or min(self.image_shape) < 1:
            raise checks.InvalidInputError(f"image_shape must be (height, width), got {self.image_shape}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise checks.InvalidInputError(f"unknown model settings: {', '.join(sorted(unknown))}")
        return cls(**values)


def build(config: ModelConfig | None = None, **settings):
    """Build the model a config describes: `build(latent_dim=2)` or `build(ModelConfig(...))`."""
    config = ModelConfig(**settings) if config is None else dataclasses.replace(config, **settings)
    return KINDS[config.kind](config)


class TrainableModel(keras.Model):
    """What `tfvae.training.fit` needs of a model: a config, metrics, seeds and a training step.

    Subclasses define `create_networks()` (the layers), `loss_terms(x, seed)` (for a model that
    `trains_on_labels`, `loss_terms((x, y), seed)`), which returns a dict holding "loss" (to
    minimize, averaged over the batch) and the per-example or per-batch metrics to report, and
    `call`. One example has the shape `config.image_shape`.
    """

    metric_names: tuple = ("loss",)
    # The `ModelConfig.objective`s this kind trains on; a kind with an objective of its own
    # narrows it, so that a setting it would ignore is refused instead.
    supported_objectives: tuple = OBJECTIVES
    # Whether `tfvae.training.fit` feeds (images, labels) pairs to `loss_terms` instead of images alone.
    trains_on_labels: bool = False

    def __init__(self, config: ModelConfig, **kwargs):
        if config.objective not in self.supported_objectives:
            raise checks.InvalidInputError(
                f"model kind {config.kind!r} trains on {' or '.join(map(repr, self.supported_objectives))}; "
                f"objective {config.objective!r} is for kind 'vae'")
        super().__init__(name=config.kind, **kwargs)
        self.config = config
        self.image_shape = config.image_shape
        self.latent_dim = config.latent_dim
        self.create_networks()
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.metric_names}
        self.seed_counter = keras.Variable(0, dtype="int64", trainable=False, name="seed_counter")
        self.create_state()
        self(tf.zeros((1,) + self.image_shape))  # create every weight now, so weights load and save at once

    def create_networks(self):
        raise NotImplementedError

    def create_state(self):
        """Create any further variables a subclass needs (Keras wants all state before the first call)."""

    @property
    def metrics(self):
        return list(self.trackers.values())

    # --- training ------------------------------------------------------------
    def next_seed(self):
        """A fresh stateless seed for every training step (and every replica).

        It depends only on the config's seed and a step counter saved with the model,
        so a resumed run draws exactly the noise an uninterrupted one would have drawn.
        """
        counter = self.seed_counter.assign_add(1)
        replica = tf.distribute.get_replica_context()
        replica_id = tf.cast(replica.replica_id_in_sync_group, tf.int64) if replica is not None else 0
        return tf.cast(tf.stack([self.config.seed * 1000 + replica_id, counter]), tf.int32)

    def loss_terms(self, x, seed=None) -> dict:
        raise NotImplementedError

    def train_step(self, data):
        """One optimizer step on a minibatch (batch, *image_shape), or one per minibatch of a group
        (steps, batch, *image_shape).

        `tfvae.training.fit` feeds groups, so a single compiled call (one XLA program)
        runs many steps with no Python in between.
        """
        return self._each_minibatch(data, self._optimizer_step)

    def test_step(self, data):
        return self._each_minibatch(data, lambda x: self._track(self.loss_terms(x, seed=self.next_seed())))

    def _optimizer_step(self, x):
        with tf.GradientTape() as tape:
            terms = self.loss_terms(x, seed=self.next_seed())
            loss = terms["loss"]
            if self.distribute_strategy.num_replicas_in_sync > 1:
                # Each replica sees a slice of the batch; gradients are summed across replicas.
                loss = loss / self.distribute_strategy.num_replicas_in_sync
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        self._track(terms)

    def _each_minibatch(self, data, step):
        # A model that trains on labels gets (images, labels) pairs; the others, images alone.
        batch = tuple(data[:2]) if self.trains_on_labels else (data[0] if isinstance(data, tuple) else data)
        x = batch[0] if self.trains_on_labels else batch
        if x.shape.rank == len(self.image_shape) + 2:
            def body(i):
                step(tf.nest.map_structure(lambda part: part[i], batch))
                return i + 1
            tf.while_loop(lambda i: i < tf.shape(x)[0], body, [tf.constant(0)])
        else:
            step(batch)
        results = {name: tracker.result() for name, tracker in self.trackers.items()}
        if distribute.spans_workers(self.distribute_strategy):
            # Keras averages a multi-worker step's logs with strategy.reduce(..., axis=0),
            # which fails on a scalar; a one-element vector reduces to the same scalar mean.
            results = {name: tf.reshape(value, [1]) for name, value in results.items()}
        return results

    def _track(self, terms):
        for name, tracker in self.trackers.items():
            tracker.update_state(terms[name])


class LatentVariableModel(TrainableModel):
    """A model of images: an encoder, a decoder, p(x|z), and `TrainableModel`'s training step.

    Subclasses define `latent_parameters` (the number of encoder outputs) and
    `loss_terms(x, seed)`.
    """

    def create_networks(self):
        config = self.config
        outputs_per_pixel = likelihoods.OUTPUTS_PER_PIXEL[config.likelihood]
        self.encoder = networks.encoder(config.architecture, config.image_shape,
                                        self.latent_parameters(), config.hidden_units)
        self.decoder = networks.decoder(config.architecture, self.code_size(), config.image_shape,
                                        outputs_per_pixel, config.hidden_units)
        self.create_observation_scale()

    def create_observation_scale(self):
        """The learned scale of a "gaussian_shared" likelihood (nothing for the other likelihoods)."""
        config = self.config
        if config.likelihood == "gaussian_shared":
            # One scale for every pixel and image, learned with the networks (it starts at observation_scale).
            self.log_observation_scale = self.add_weight(
                shape=(), initializer=keras.initializers.Constant(math.log(config.observation_scale)),
                name="log_observation_scale")

    def latent_parameters(self) -> int:
        raise NotImplementedError

    def code_size(self) -> int:
        """The decoder's input width: d for a continuous z; a family whose z has more axes (one-hot codes) flattens it."""
        return self.config.latent_dim

    # --- distributions -----------------------------------------------------
    def decode(self, z):
        """p(x|z) as a distribution over whole images.

        Shapes: z (..., d) -> batch shape (...), event shape image_shape.
        """
        z = tf.convert_to_tensor(z, tf.float32)
        lead = tf.shape(z)[:-1]
        out = tf.cast(self.decoder(tf.reshape(z, [-1, self.code_size()])), tf.float32)
        out = tf.reshape(out, tf.concat([lead, tf.shape(out)[1:]], axis=0))
        scale = (tf.exp(self.log_observation_scale) if self.config.likelihood == "gaussian_shared"
                 else self.config.observation_scale)
        pixels = likelihoods.pixel_distribution(self.config.likelihood, out, scale)
        return tfd.Independent(pixels, reinterpreted_batch_ndims=len(self.image_shape))

    def reconstruct(self, x):
        """The mean of p(x|z) at the encoder's code for x. Shapes: (n, h, w) -> (n, h, w)."""
        return self.decode(self.encode(x).mean()).mean()

    def call(self, x, training=False):
        return self.reconstruct(x)
