"""VAEs that model a label beside the image: the class-conditional VAE and Kingma et al.'s (2014) M2.

Both share one generative model of an image x with a class y (one of K) and a code z:

    p(y) = Cat(1/K, ..., 1/K),   p(z) = N(0, I),   x | y, z ~ p(x|y, z),

with the decoder reading [z, one_hot(y)], and one recognition model q(z|x, y) = N(mu(x, y),
diag sigma^2(x, y)), whose hidden layer reads x and one_hot(y).

* `ConditionalVAE` (kind "cvae"): every training image comes with its label. It is trained on the
  conditional ELBO of log p(x|y), {eq}`eq-conditional-elbo`; `sample(n, classes=...)` draws
  images of chosen classes.
* `SemiSupervisedVAE` (kind "m2"): a few labelled images and many unlabelled ones. It adds a
  classifier q(y|x) and trains on {eq}`eq-m2-objective`: the labelled bound L(x, y),
  {eq}`eq-m2-labelled`, the unlabelled bound U(x), which sums L(x, y) over y weighted by q(y|x),
  {eq}`eq-m2-unlabelled`, and alpha times the classifier's log-likelihood of the labels. The
  labelled images live in the model (non-trainable variables, saved with the weights), so
  `tfvae.training.fit` feeds it unlabelled images like any other model and each step draws a
  labelled minibatch of its own.

config.extra: "classes" K (default 10); "activation" of the hidden layers (default "softplus",
as in Kingma et al., 2014, section 4); for "m2" also "labelled" (the number of labelled
images, required), "classifier_weight" alpha (default `DEFAULT_CLASSIFIER_WEIGHT`),
"labelled_batch" (labelled images per step, default 100) and "labelled_binarization"
("dynamic", a fresh Bernoulli draw of the stored grey images at every step, or "none").
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import checks, networks
from tfvae.choices import DEFAULT_CLASSIFIER_WEIGHT, LABELLED_BINARIZATIONS
from tfvae.errors import InvalidInputError
from tfvae.models import likelihoods
from tfvae.models.base import LatentVariableModel, register

tfd = tfp.distributions

DEFAULT_CLASSES = 10
DEFAULT_ACTIVATION = "softplus"
DEFAULT_LABELLED_BATCH = 100


class ConditionalEncoder(keras.layers.Layer):
    """q(z|x, y)'s network: h = act(W_x x + W_y one_hot(y) + b), then a linear map to `n_out` numbers.

    The image's part W_x x is computed once, so the parameters for every class at once cost
    one image pass plus K small ones (`all_classes`).
    Shapes: call(x (n, h, w), y_one_hot (n, K)) -> (n, n_out); all_classes(x) -> (n, K, n_out).
    """

    def __init__(self, classes: int, n_out: int, hidden_units: int, activation: str, **kwargs):
        super().__init__(**kwargs)
        self.flatten = keras.layers.Flatten()
        self.image_part = keras.layers.Dense(hidden_units, name="image_part")
        self.class_part = keras.layers.Dense(hidden_units, use_bias=False, name="class_part")
        self.activation = keras.activations.get(activation)
        self.parameters = keras.layers.Dense(n_out, name="parameters")
        self.classes = classes

    def build(self, image_shape):
        self.flatten.build(image_shape)
        self.image_part.build((None, math.prod(image_shape[1:])))
        self.class_part.build((None, self.classes))
        self.parameters.build((None, self.image_part.units))

    def call(self, x, y_one_hot):
        hidden = self.image_part(self.flatten(x)) + self.class_part(y_one_hot)
        return self.parameters(self.activation(hidden))

    def all_classes(self, x):
        image = self.image_part(self.flatten(x))[:, None, :]                    # (n, 1, H)
        classes = self.class_part(tf.eye(self.classes))[None, :, :]             # (1, K, H)
        return self.parameters(self.activation(image + classes))                # (n, K, n_out)


@register("cvae")
class ConditionalVAE(LatentVariableModel):
    """A class-conditional VAE: q(z|x, y) and p(x|y, z), trained on (image, label) pairs.

    encode(x, y)      -> q(z|x, y), diagonal Gaussian              (batch (n,), event (d,))
    decode_class(z, y) -> p(x|y, z)                                (batch z.shape[:-1], event image_shape)
    sample(n, classes) -> images of the given classes (uniformly drawn when None)
    """

    metric_names = ("loss", "elbo", "reconstruction", "kl")
    supported_objectives = ("elbo",)
    trains_on_labels = True

    def __init__(self, config, **kwargs):
        if config.architecture != "mlp":
            raise InvalidInputError(f"model kind {config.kind!r} has MLP networks only; "
                                    f"architecture {config.architecture!r} is not available for it")
        if config.free_bits > 0:
            raise InvalidInputError(f"model kind {config.kind!r} does not train with free bits")
        super().__init__(config, **kwargs)

    @property
    def classes(self) -> int:
        classes = checks.positive_int(self.config.extra.get("classes", DEFAULT_CLASSES), "classes")
        if classes < 2:
            raise InvalidInputError(f"classes must be at least 2, got {classes}")
        return classes

    def latent_parameters(self) -> int:
        return 2 * self.latent_dim

    def code_size(self) -> int:
        """The decoder reads [z, one_hot(y)]."""
        return self.latent_dim + self.classes

    def create_networks(self):
        config = self.config
        activation = self.config.extra.get("activation", DEFAULT_ACTIVATION)
        try:
            keras.activations.get(activation)
        except ValueError:
            raise InvalidInputError(f"unknown activation {activation!r}") from None
        self.encoder = ConditionalEncoder(self.classes, self.latent_parameters(), config.hidden_units, activation,
                                          name="conditional_encoder")
        self.encoder.build((None,) + tuple(config.image_shape))
        self.decoder = networks.mlp_decoder(self.code_size(), config.image_shape,
                                            likelihoods.OUTPUTS_PER_PIXEL[config.likelihood],
                                            config.hidden_units, activation=activation)
        self.create_observation_scale()

    def create_state(self):
        self.kl_weight = keras.Variable(float(self.config.beta), dtype="float32", trainable=False, name="kl_weight")

    @property
    def prior(self):
        """p(z) = N(0, I), the same for every class."""
        return tfd.MultivariateNormalDiag(loc=tf.zeros(self.latent_dim))

    def one_hot(self, y):
        """Labels (n,) as one-hot rows (n, K); refuses labels outside 0 .. K-1 when they are known eagerly."""
        y = tf.convert_to_tensor(y)
        if tf.executing_eagerly() and tf.size(y) > 0:
            low, high = int(tf.reduce_min(y)), int(tf.reduce_max(y))
            if low < 0 or high >= self.classes:
                raise InvalidInputError(f"labels must be in 0 .. {self.classes - 1}, got values from {low} to {high}")
        return tf.one_hot(tf.cast(y, tf.int32), self.classes)

    @staticmethod
    def _gaussian(parameters, d):
        parameters = tf.cast(parameters, tf.float32)
        return tfd.MultivariateNormalDiag(loc=parameters[..., :d], scale_diag=tf.exp(0.5 * parameters[..., d:]))

    def encode(self, x, y):
        """q(z|x, y), {eq}`eq-conditional-elbo`. Shapes: x (n, h, w), y (n,) labels -> batch (n,), event (d,)."""
        return self._gaussian(self.encoder(tf.cast(x, tf.float32), self.one_hot(y)), self.latent_dim)

    def encode_all_classes(self, x):
        """q(z|x, y) for every class y at once. Shapes: (n, h, w) -> batch (n, K), event (d,)."""
        return self._gaussian(self.encoder.all_classes(tf.cast(x, tf.float32)), self.latent_dim)

    def decode_class(self, z, y_one_hot):
        """p(x|y, z). Shapes: z (..., d), y_one_hot (..., K) -> batch (...), event image_shape."""
        z = tf.convert_to_tensor(z, tf.float32)
        y_one_hot = tf.broadcast_to(tf.cast(y_one_hot, tf.float32), tf.concat([tf.shape(z)[:-1], [self.classes]], 0))
        return self.decode(tf.concat([z, y_one_hot], axis=-1))

    def bound_terms(self, posterior, x, y_one_hot, seed=None):
        """Reconstruction E_q log p(x|y, z) (one reparameterized sample) and KL(q(z|x, y) || p(z)), per (image, class).

        posterior: q(z|x, y) with batch shape (n,) or (n, K); y_one_hot of shape (n, K) or (1, K, K).
        """
        z = posterior.sample(seed=seed)
        pixels = self.decode_class(z, y_one_hot)
        x = tf.cast(x, tf.float32)
        x = x if posterior.batch_shape.rank == 1 else x[:, None]
        return pixels.log_prob(x), posterior.kl_divergence(self.prior)

    def conditional_elbo(self, x, y, seed=None):
        """The ELBO of log p(x|y), {eq}`eq-conditional-elbo`: reconstruction - KL. Shapes: (n, h, w), (n,) -> 3 x (n,)."""
        reconstruction, kl = self.bound_terms(self.encode(x, y), x, self.one_hot(y), seed=seed)
        return reconstruction - kl, reconstruction, kl

    def loss_terms(self, batch, seed=None) -> dict:
        x, y = batch
        elbo, reconstruction, kl = self.conditional_elbo(x, y, seed=seed)
        loss = -tf.reduce_mean(reconstruction - self.kl_weight * kl)
        return {"loss": loss, "elbo": elbo, "reconstruction": reconstruction, "kl": kl}

    def sample(self, n: int, seed=None, classes=None):
        """n images, the means of p(x|y, z) for z ~ p(z): of the given `classes` (n,), or of uniformly drawn ones.

        Shape (n, h, w).
        """
        n = checks.positive_int(n, "n")
        class_seed, z_seed = tfp.random.split_seed(seed, n=2) if seed is not None else (None, None)
        if classes is None:
            classes = tfd.Categorical(logits=tf.zeros(self.classes)).sample(n, seed=class_seed)
        y = self.one_hot(classes)
        if y.shape[0] != n:
            raise InvalidInputError(f"classes must hold one label per image ({n}), got {y.shape[0]}")
        return self.decode_class(self.prior.sample(n, seed=z_seed), y).mean()

    def reconstruct(self, x, y):
        """The mean of p(x|y, z) at the mean of q(z|x, y). Shapes: (n, h, w), (n,) -> (n, h, w)."""
        return self.decode_class(self.encode(x, y).mean(), self.one_hot(y)).mean()

    def call(self, x, training=False):
        """Keras' call, which builds the weights: the reconstruction of x as class 0."""
        return self.reconstruct(x, tf.zeros(tf.shape(x)[:1], tf.int32))


@register("m2")
class SemiSupervisedVAE(ConditionalVAE):
    """Kingma et al.'s (2014) M2: the conditional VAE, a classifier q(y|x), and a few labelled images.

    classify(x)   -> q(y|x), a Categorical over K classes     (batch (n,))
    predict_classes(x) -> argmax_y q(y|x), in batches          (n,)
    unlabelled_bound(x) -> U(x), {eq}`eq-m2-unlabelled`        (n,)
    Call `set_labelled(images, labels)` before training; they are saved with the weights.
    """

    metric_names = ("loss", "elbo", "labelled_elbo", "cross_entropy")
    trains_on_labels = False  # the labels live in the model; fit feeds the unlabelled images

    def __init__(self, config, **kwargs):
        extra = config.extra
        checks.positive_int(extra.get("labelled"), "labelled (the number of labelled images, in config.extra)")
        weight = extra.get("classifier_weight", DEFAULT_CLASSIFIER_WEIGHT)
        if not (isinstance(weight, (int, float)) and math.isfinite(weight) and weight >= 0):
            raise InvalidInputError(f"classifier_weight must be a finite number >= 0, got {weight!r}")
        checks.positive_int(extra.get("labelled_batch", DEFAULT_LABELLED_BATCH), "labelled_batch")
        checks.one_of(extra.get("labelled_binarization", "dynamic"), LABELLED_BINARIZATIONS, "labelled_binarization")
        if config.beta != 1:
            raise InvalidInputError(f"model kind 'm2' trains on its bounds as they are; beta must be 1, got {config.beta}")
        super().__init__(config, **kwargs)

    def create_networks(self):
        super().create_networks()
        self.classifier = networks.mlp_encoder(self.config.image_shape, self.classes, self.config.hidden_units,
                                               activation=self.config.extra.get("activation", DEFAULT_ACTIVATION))

    def create_state(self):
        super().create_state()
        n = self.config.extra["labelled"]
        self.labelled_images = self.add_weight(shape=(n,) + tuple(self.image_shape), initializer="zeros",
                                               trainable=False, name="labelled_images")
        self.labelled_classes = self.add_weight(shape=(n,), initializer="zeros", dtype="int32", trainable=False,
                                                name="labelled_classes")

    def set_labelled(self, images, labels):
        """Store the labelled training images (n, h, w) in [0, 1] and their labels (n,); n = config.extra["labelled"]."""
        n = self.config.extra["labelled"]
        images = checks.images(images, "labelled images", image_shape=self.image_shape, binary_range=True)
        labels = np.asarray(labels)
        if images.shape[0] != n or labels.shape != (n,):
            raise InvalidInputError(f"the model holds {n} labelled images; got {images.shape[0]} images and "
                                    f"labels of shape {labels.shape}")
        if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() >= self.classes:
            raise InvalidInputError(f"labels must be whole numbers in 0 .. {self.classes - 1}")
        self.labelled_images.assign(images.astype(np.float32))
        self.labelled_classes.assign(labels.astype(np.int32))

    def classify(self, x):
        """q(y|x), the classifier. Shapes: (n, h, w) -> Categorical with batch shape (n,)."""
        return tfd.Categorical(logits=tf.cast(self.classifier(tf.cast(x, tf.float32)), tf.float32))

    def predict_classes(self, x, batch_size: int = 1000) -> np.ndarray:
        """argmax_y q(y|x) for every image, in batches. Shapes: (n, h, w) -> (n,) int."""
        x = checks.images(x, "images", image_shape=self.image_shape)
        return np.concatenate([tf.argmax(self.classify(x[i:i + batch_size]).logits, axis=-1).numpy()
                               for i in range(0, len(x), batch_size)])

    def labelled_bound(self, x, y, seed=None):
        """L(x, y) = ELBO of log p(x|y) + log p(y), {eq}`eq-m2-labelled`. Shapes: (n, h, w), (n,) -> (n,)."""
        elbo, _, _ = self.conditional_elbo(x, y, seed=seed)
        return elbo - math.log(self.classes)

    def unlabelled_bound(self, x, seed=None):
        """U(x) = sum_y q(y|x) L(x, y) + H(q(y|x)), {eq}`eq-m2-unlabelled`, a lower bound on log p(x). (n, h, w) -> (n,)."""
        reconstruction, kl = self.bound_terms(self.encode_all_classes(x), x, tf.eye(self.classes)[None], seed=seed)
        per_class = reconstruction - kl - math.log(self.classes)                 # L(x, y) for every y: (n, K)
        q_y = self.classify(x)
        return tf.reduce_sum(q_y.probs_parameter() * per_class, axis=-1) + q_y.entropy()

    def labelled_minibatch(self, seed):
        """A minibatch of the stored labelled images, drawn with replacement (and binarized afresh, if so set)."""
        index_seed, pixel_seed = tfp.random.split_seed(seed, n=2)
        size = self.config.extra.get("labelled_batch", DEFAULT_LABELLED_BATCH)
        index = tf.random.stateless_uniform([size], index_seed, 0, self.config.extra["labelled"], dtype=tf.int32)
        x = tf.gather(self.labelled_images, index)
        if self.config.extra.get("labelled_binarization", "dynamic") == "dynamic":
            x = tf.cast(tf.random.stateless_uniform(tf.shape(x), pixel_seed) < x, tf.float32)
        return x, tf.gather(self.labelled_classes, index)

    def loss_terms(self, x, seed=None) -> dict:
        """The negated objective of {eq}`eq-m2-objective`, per image: -U(x) - L(x_l, y_l) - alpha log q(y_l|x_l)."""
        seed = tf.constant([0, 0], tf.int32) if seed is None else seed
        unlabelled_seed, labelled_seed, batch_seed = tfp.random.split_seed(seed, n=3)
        bound = self.unlabelled_bound(x, seed=unlabelled_seed)
        x_l, y_l = self.labelled_minibatch(batch_seed)
        labelled = self.labelled_bound(x_l, y_l, seed=labelled_seed)
        cross_entropy = -self.classify(x_l).log_prob(y_l)
        weight = float(self.config.extra.get("classifier_weight", DEFAULT_CLASSIFIER_WEIGHT))
        loss = -tf.reduce_mean(bound) - tf.reduce_mean(labelled) + weight * tf.reduce_mean(cross_entropy)
        return {"loss": loss, "elbo": bound, "labelled_elbo": labelled, "cross_entropy": cross_entropy}

    def call(self, x, training=False):
        """Keras' call, which builds the weights: the reconstruction of x as the class q(y|x) finds likeliest."""
        return self.reconstruct(x, tf.argmax(self.classify(x).logits, axis=-1, output_type=tf.int32))
