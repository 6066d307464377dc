"""The decoder's mean, E[x|z], as numbers a browser can evaluate without TensorFlow.

A static page has no kernel, so the explorer in `tfvae.explore.static_explorer` runs the
decoder in JavaScript (`tfvae/explore/explorer.js`). This module writes the decoder's dense layers
into a JSON-ready dict and holds `decode_exported`, the same computation in NumPy, which
the tests use to check the JavaScript.

Size. The paper's MNIST decoder (20-500-784) has 403k weights. As float16 in base64 they
take 1.08 MB, more than a page should carry per figure; so each kernel is stored as 13-bit
integers with one scale per output unit (the column's largest |w| maps to 4095), packed
back to back: 1.625 bytes a weight, 0.85 MB of base64 for this decoder (0.90 MB for the
whole explorer). Precision: for weights spread like a Gaussian (sd sigma), a column's largest
of 500 is about 3 sigma, so the rounding step is about 7e-4 sigma and the rounding error's
spread (step / sqrt(12)) about 2e-4 sigma, the same as float16's (a weight near sigma is
rounded to a step of 2^-10 sigma or less, spread up to 2.8e-4 sigma). Biases and scales stay
float32; they are few. The tests measure the effect on pixels.

A Gaussian decoder's last layer emits (mean, scale parameter) per pixel; only the mean
columns are exported, because the explorer shows the mean.
"""

from __future__ import annotations

import base64

import keras
import numpy as np

from tfvae.errors import InvalidInputError
from tfvae.models import likelihoods

ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")
BITS = 13  # bits per stored weight
QUANT_MAX = 2 ** (BITS - 1) - 1  # weights are stored as integers in [-QUANT_MAX, QUANT_MAX]
FORMAT = "tfvae-decoder-1"


class UntranslatableDecoderError(InvalidInputError):
    """The decoder has a layer the JavaScript decoder cannot evaluate.

    `found` says what, in a phrase such as "a Conv2DTranspose layer".
    """

    def __init__(self, message: str, found: str):
        super().__init__(message)
        self.found = found


def export_decoder(model) -> dict:
    """The mean of p(x|z) as a list of dense layers, ready for `json.dumps`.

    Args:
      model: a tfvae model whose `decoder` is a stack of Dense layers (tanh, relu, sigmoid
        or linear activations) optionally ending in Reshape/Flatten, as the "mlp"
        architecture builds; `model.config.likelihood` decides the mean's link.

    Returns:
      {"format", "latent_dim", "image_shape": [h, w], "link": "sigmoid"|"identity",
       "layers": [{"inputs", "outputs", "activation", "kernel": {"scale", "bits", "packed"}, "bias"}]},
      where kernels are (inputs, outputs) row-major, `BITS`-bit packed (see `pack_bits`), and
      biases/scales are float32, all base64.

    Raises:
      UntranslatableDecoderError naming the first layer type that is not translatable.
    """
    if model.config.likelihood == "discretized_logistic":
        # Its mean sums the logistic's mass over 255 bin edges, not one link of one output.
        raise UntranslatableDecoderError("the mean of a discretized-logistic decoder is not one output passed "
                                         "through a link; the explorer cannot compute it",
                                         "a discretized-logistic likelihood")
    dense = _dense_layers(model.decoder)
    h, w = (int(s) for s in model.image_shape)
    outputs_per_pixel = likelihoods.OUTPUTS_PER_PIXEL[model.config.likelihood]
    layers = []
    for i, layer in enumerate(dense):
        kernel, bias = (np.asarray(v, np.float32) for v in _kernel_and_bias(layer))
        activation = layer.activation.__name__
        if i == len(dense) - 1:
            if kernel.shape[1] != h * w * outputs_per_pixel:
                raise UntranslatableDecoderError(
                    f"the decoder's last Dense layer has {kernel.shape[1]} outputs; expected "
                    f"{h * w * outputs_per_pixel} ({h}x{w} pixels x {outputs_per_pixel} parameters)",
                    f"a last Dense layer with {kernel.shape[1]} outputs")
            # Pixel p's parameters are outputs p*k .. p*k+k-1 (a Reshape to (h, w, k)); the mean is the first.
            kernel, bias = kernel[:, ::outputs_per_pixel], bias[::outputs_per_pixel]
        scale, q = quantize(kernel)
        layers.append({
            "inputs": int(kernel.shape[0]),
            "outputs": int(kernel.shape[1]),
            "activation": activation,
            "kernel": {"scale": _b64(scale.astype("<f4")), "bits": BITS, "packed": _b64(pack_bits(q, BITS))},
            "bias": _b64(bias.astype("<f4")),
        })
    if layers[0]["inputs"] != model.latent_dim:
        raise UntranslatableDecoderError(
            f"the decoder's first Dense layer takes {layers[0]['inputs']} inputs, but latent_dim is {model.latent_dim}",
            f"a first Dense layer with {layers[0]['inputs']} inputs")
    return {
        "format": FORMAT,
        "latent_dim": int(model.latent_dim),
        "image_shape": [h, w],
        "link": "sigmoid" if model.config.likelihood == "bernoulli" else "identity",
        "layers": layers,
    }


def decode_exported(spec: dict, z) -> np.ndarray:
    """E[x|z] computed from an exported decoder, in NumPy: the reference for explorer.js.

    Shapes: z (n, d) or (d,) -> (n, h, w) or (h, w).
    """
    z = np.asarray(z, np.float64)
    single = z.ndim == 1
    out = np.atleast_2d(z)
    for layer in spec["layers"]:
        kernel = unpack_bits(base64.b64decode(layer["kernel"]["packed"]), layer["kernel"]["bits"],
                             layer["inputs"] * layer["outputs"])
        kernel = kernel.reshape(layer["inputs"], layer["outputs"]) * _unb64(layer["kernel"]["scale"], "<f4")
        out = _ACTIVATION_FUNCTIONS[layer["activation"]](out @ kernel + _unb64(layer["bias"], "<f4"))
    if spec["link"] == "sigmoid":
        out = 1.0 / (1.0 + np.exp(-out))
    out = out.reshape((-1,) + tuple(spec["image_shape"]))
    return out[0] if single else out


def quantize(kernel: np.ndarray):
    """Per-column symmetric quantization to integers in [-QUANT_MAX, QUANT_MAX]. Shapes: (n_in, n_out) -> scale (n_out,), q (n_in, n_out) int."""
    largest = np.abs(kernel).max(axis=0)
    scale = np.where(largest > 0, largest / QUANT_MAX, 1.0).astype(np.float32)
    q = np.clip(np.rint(kernel / scale), -QUANT_MAX, QUANT_MAX).astype(np.int16)
    return scale, q


def pack_bits(q: np.ndarray, bits: int) -> bytes:
    """Pack signed integers |q| < 2^(bits-1) back to back, `bits` bits each (offset 2^(bits-1), least significant bit first)."""
    u = np.asarray(q, np.int64).ravel() + (1 << (bits - 1))
    fields = ((u[:, None] >> np.arange(bits)) & 1).astype(np.uint8)
    return np.packbits(fields.ravel(), bitorder="little").tobytes()


def unpack_bits(packed: bytes, bits: int, n: int) -> np.ndarray:
    """Inverse of `pack_bits`: the first n integers, as float64."""
    fields = np.unpackbits(np.frombuffer(packed, np.uint8), bitorder="little")[:n * bits].reshape(n, bits)
    return (fields.astype(np.int64) @ (1 << np.arange(bits)) - (1 << (bits - 1))).astype(np.float64)


def _dense_layers(decoder):
    layers = [layer for layer in getattr(decoder, "layers", [decoder])
              if not isinstance(layer, keras.layers.InputLayer)]
    dense = []
    for i, layer in enumerate(layers):
        if isinstance(layer, keras.layers.Dense):
            activation = getattr(layer.activation, "__name__", str(layer.activation))
            if activation not in ACTIVATIONS:
                raise UntranslatableDecoderError(
                    f"{_CAN_TRANSLATE}; this decoder's Dense layer {layer.name!r} has activation {activation!r}",
                    f"a Dense layer with activation {activation!r}")
            dense.append(layer)
        elif isinstance(layer, (keras.layers.Reshape, keras.layers.Flatten)):
            # A reshape only renames the flat vector's axes; a Dense after a reshape to >1 axis
            # would act on the last axis alone, so reshapes are translatable only at the end.
            if any(isinstance(later, keras.layers.Dense) for later in layers[i + 1:]):
                nxt = next(type(later).__name__ for later in layers[i + 1:]
                           if not isinstance(later, (keras.layers.Reshape, keras.layers.Flatten)))
                raise UntranslatableDecoderError(
                    f"{_CAN_TRANSLATE}; this decoder has a {type(layer).__name__} layer followed by a {nxt} layer",
                    f"a {type(layer).__name__} layer followed by a {nxt} layer")
        else:
            raise UntranslatableDecoderError(f"{_CAN_TRANSLATE}; this decoder has a {type(layer).__name__} layer",
                                             f"a {type(layer).__name__} layer")
    if not dense:
        raise UntranslatableDecoderError(f"{_CAN_TRANSLATE}; this decoder has no Dense layer", "no Dense layer")
    return dense


_CAN_TRANSLATE = ("static_explorer can translate Dense layers with tanh/relu/sigmoid/linear activations "
                  "(and a final Reshape)")


def _kernel_and_bias(layer):
    kernel = np.asarray(layer.kernel)
    bias = np.asarray(layer.bias) if layer.use_bias else np.zeros(kernel.shape[1], np.float32)
    return kernel, bias


def _b64(array) -> str:
    data = array if isinstance(array, bytes) else np.ascontiguousarray(array).tobytes()
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, dtype) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=dtype).astype(np.float64)


_ACTIVATION_FUNCTIONS = {
    "tanh": np.tanh,
    "relu": lambda a: np.maximum(a, 0.0),
    "sigmoid": lambda a: 1.0 / (1.0 + np.exp(-a)),
    "linear": lambda a: a,
}
