"""Encoder and decoder networks: the paper's one-hidden-layer MLP, a deeper MLP and a small convolutional pair.

An encoder maps images (batch, h, w) to a flat vector of distribution parameters
(batch, n_out); a decoder maps latent codes (batch, d) to per-pixel parameters
(batch, h, w) or (batch, h, w, k). Models turn these numbers into `tfd` distributions;
networks know nothing about probability.

The architectures, by name:

* "mlp": the paper's, one tanh hidden layer in the encoder and one in the decoder.
* "deep_mlp": ReLU hidden layers, two in the encoder and three in the decoder: the depth of
  the fully connected networks Higgins et al. (2017) trained on dSprites (theirs were 1,200
  units wide). Chapter 10 measures what the extra layers change.
* "conv": two stride-2 convolutions each way.
"""

from __future__ import annotations

import math

import keras

from tfvae import checks
from tfvae.choices import ARCHITECTURES  # re-exported: the names checked here


# Hidden layers of the "deep_mlp" architecture, encoder and decoder.
DEEP_ENCODER_LAYERS, DEEP_DECODER_LAYERS = 2, 3


def _hidden_layers(units: int, activation: str, layers: int) -> list:
    """`layers` dense layers of `units` units; a single one is named "hidden", several "hidden_1", ..."""
    layers = checks.positive_int(layers, "layers")
    names = ["hidden"] if layers == 1 else [f"hidden_{i + 1}" for i in range(layers)]
    return [keras.layers.Dense(units, activation=activation, name=name) for name in names]


def mlp_encoder(image_shape, n_out: int, hidden_units: int = 500, activation: str = "tanh",
                layers: int = 1) -> keras.Sequential:
    """The paper's encoder MLP (Appendix C.2): h = tanh(W x + b), then a linear map to `n_out` numbers.

    With `layers` > 1, that many hidden layers, each feeding the next ("deep_mlp").
    Shapes: (batch, h, w) -> (batch, n_out).
    """
    return keras.Sequential([
        keras.layers.Input(tuple(image_shape)),
        keras.layers.Flatten(),
        *_hidden_layers(hidden_units, activation, layers),
        keras.layers.Dense(n_out, name="parameters"),
    ], name="mlp_encoder")


def mlp_decoder(latent_dim: int, image_shape, outputs_per_pixel: int = 1, hidden_units: int = 500,
                activation: str = "tanh", layers: int = 1) -> keras.Sequential:
    """The paper's decoder MLP: h = tanh(W z + b), then a linear map to per-pixel parameters.

    With `layers` > 1, that many hidden layers, each feeding the next ("deep_mlp").
    Shapes: (batch, latent_dim) -> (batch, h, w) if outputs_per_pixel == 1, else (batch, h, w, k).
    """
    return keras.Sequential([
        keras.layers.Input((latent_dim,)),
        *_hidden_layers(hidden_units, activation, layers),
        keras.layers.Dense(math.prod(image_shape) * outputs_per_pixel, name="parameters"),
        keras.layers.Reshape(_pixel_shape(image_shape, outputs_per_pixel)),
    ], name="mlp_decoder")


def conv_encoder(image_shape, n_out: int, filters: int = 32) -> keras.Sequential:
    """Two stride-2 convolutions (32 and 64 filters), then a linear map to `n_out` numbers.

    Shapes: (batch, h, w) -> (batch, n_out); h and w must be multiples of 4.
    """
    _check_conv_shape(image_shape)
    h, w = image_shape
    return keras.Sequential([
        keras.layers.Input((h, w)),
        keras.layers.Reshape((h, w, 1)),
        keras.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Conv2D(2 * filters, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(n_out, name="parameters"),
    ], name="conv_encoder")


def conv_decoder(latent_dim: int, image_shape, outputs_per_pixel: int = 1, filters: int = 32) -> keras.Sequential:
    """The mirror of `conv_encoder`: a dense layer to a (h/4, w/4) map, two stride-2 transposed convolutions.

    Shapes: (batch, latent_dim) -> (batch, h, w) or (batch, h, w, k).
    """
    _check_conv_shape(image_shape)
    h, w = image_shape
    return keras.Sequential([
        keras.layers.Input((latent_dim,)),
        keras.layers.Dense((h // 4) * (w // 4) * 2 * filters, activation="relu"),
        keras.layers.Reshape((h // 4, w // 4, 2 * filters)),
        keras.layers.Conv2DTranspose(2 * filters, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Conv2DTranspose(filters, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Conv2DTranspose(outputs_per_pixel, 3, padding="same", name="parameters"),
        keras.layers.Reshape(_pixel_shape(image_shape, outputs_per_pixel)),
    ], name="conv_decoder")


def encoder(architecture: str, image_shape, n_out: int, hidden_units: int = 500) -> keras.Sequential:
    """The encoder of the named architecture (see the module's docstring)."""
    checks.one_of(architecture, ARCHITECTURES, "architecture")
    if architecture == "mlp":
        return mlp_encoder(image_shape, n_out, hidden_units)
    if architecture == "deep_mlp":
        return mlp_encoder(image_shape, n_out, hidden_units, activation="relu", layers=DEEP_ENCODER_LAYERS)
    return conv_encoder(image_shape, n_out)


def decoder(architecture: str, latent_dim: int, image_shape, outputs_per_pixel: int = 1,
            hidden_units: int = 500) -> keras.Sequential:
    """The decoder of the named architecture (see the module's docstring)."""
    checks.one_of(architecture, ARCHITECTURES, "architecture")
    if architecture == "mlp":
        return mlp_decoder(latent_dim, image_shape, outputs_per_pixel, hidden_units)
    if architecture == "deep_mlp":
        return mlp_decoder(latent_dim, image_shape, outputs_per_pixel, hidden_units, activation="relu",
                           layers=DEEP_DECODER_LAYERS)
    return conv_decoder(latent_dim, image_shape, outputs_per_pixel)


def multiply_adds(network: keras.Sequential) -> dict:
    """Multiply-adds per example of each weighted layer of a built network {eq}`eq-layer-cost`, by layer name.

    A dense layer from n to m units costs n m. A convolution with a k x k kernel from C_in to
    C_out channels costs k^2 C_in C_out per output position, H_out W_out of them; a transposed
    convolution scatters a k x k x C_out patch from each of its H_in W_in input positions, the
    same k^2 C_in C_out per position. Padding positions are counted (the kernels compute them).
    Layers without weights (reshapes, flattening) cost nothing here.
    """
    costs = {}
    for layer in network.layers:
        if isinstance(layer, keras.layers.Dense):
            costs[layer.name] = int(layer.kernel.shape[0] * layer.kernel.shape[1])
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            k_h, k_w = layer.kernel_size
            c_in = layer.input.shape[-1]
            positions = layer.input.shape[1:3] if isinstance(layer, keras.layers.Conv2DTranspose) else layer.output.shape[1:3]
            costs[layer.name] = int(positions[0] * positions[1] * k_h * k_w * c_in * layer.filters)
        elif layer.weights:
            raise checks.InvalidInputError(f"multiply_adds does not know the layer {layer.name!r} "
                                           f"({type(layer).__name__})")
    return costs


def _pixel_shape(image_shape, outputs_per_pixel):
    return tuple(image_shape) if outputs_per_pixel == 1 else tuple(image_shape) + (outputs_per_pixel,)


def _check_conv_shape(image_shape):
    if len(image_shape) != 2 or image_shape[0] % 4 or image_shape[1] % 4:
        raise checks.InvalidInputError(
            f"the conv architecture needs 2-D images whose sides are multiples of 4, got {tuple(image_shape)}")
