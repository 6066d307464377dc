"""Sliding through the latent space: z -> E[x|z], interactively.

Two explorers of the decoder's mean image as a function of z:

* `static_explorer(model)`: self-contained HTML + JavaScript. The decoder's weights travel
  inside the page (`tfvae.decoder_export`) and `tfvae/explorer.js` evaluates the decoder in
  the browser, so it works in the built book, with no kernel and no network.
* `latent_explorer(model)`: ipywidgets for a live kernel (Jupyter, Colab); the decoder runs
  in TensorFlow as a compiled `tf.function`.

Both show one slider per latent coordinate (or the first few, each with a selector of the
coordinate it drives), "random from prior" and "reset" buttons, and starting points such as
encoded test images (`encoded_anchors`) or a mixture prior's component means.
"""

from __future__ import annotations

import html
import importlib.resources
import io
import json
import math
import uuid
import warnings

import numpy as np
import tensorflow as tf

from tfvae import decoder_export, validation
from tfvae.errors import InvalidInputError, TfvaeError

NO_FRONT_END = ("no widget front end: run this in Jupyter/Colab, or use tfvae.widgets.static_explorer(model), "
                "which works in any browser")
PRIOR_DRAWS = 64  # prior samples shipped in the page when the prior is not N(0, I)
GRID_SIDE = 21  # grid points per axis for the 2-D fallback: 441 decoded images


class WidgetsUnavailableError(TfvaeError, ImportError):
    """ipywidgets is not installed, so the live explorer cannot be built."""


# --- the static explorer ------------------------------------------------------------------

def static_explorer(model, *, anchors=None, latent_range: float = 3.0, max_sliders: int | None = None):
    """A latent explorer that runs in any browser: sliders over z, E[x|z] on a canvas.

    Args:
      model: a tfvae model with an MLP decoder (Dense layers; see `tfvae.decoder_export`),
        or any decoder if latent_dim == 2 (then images decoded by TensorFlow on a grid).
      anchors: optional dict name -> latent vector (d,), offered as starting points
        (e.g. `encoded_anchors(model, images, labels)` or a mixture's component means).
      latent_range: the sliders span [-latent_range, latent_range] (widened to hold every anchor).
      max_sliders: show at most this many sliders, each with a selector of the coordinate it
        drives; default: one slider per coordinate.

    Returns:
      an `IPython.display.HTML` object; its `.data` is the page fragment (unique element ids,
      so several explorers can share a page).

    Raises:
      UntranslatableDecoderError naming the layer type the browser cannot evaluate, when
      latent_dim != 2.
    """
    from IPython.display import HTML

    d = int(model.latent_dim)
    anchors = _check_anchors(anchors, d)
    if not (isinstance(latent_range, (int, float)) and math.isfinite(latent_range) and latent_range > 0):
        raise InvalidInputError(f"latent_range must be a finite number > 0, got {latent_range!r}")
    slider_count = d if max_sliders is None else min(d, validation.positive_int(max_sliders, "max_sliders"))
    spec = {"latent_dim": d, "image_shape": [int(s) for s in model.image_shape], "slider_count": slider_count,
            "anchors": [{"name": name, "z": [round(float(v), 4) for v in z]} for name, z in anchors.items()],
            "prior": _prior_spec(model)}
    largest_anchor = max((abs(v) for a in spec["anchors"] for v in a["z"]), default=0.0)
    spec["range"] = float(max(latent_range, math.ceil(2 * largest_anchor) / 2))
    try:
        spec["decoder"] = decoder_export.export_decoder(model)
        spec["mode"] = "mlp"
        spec["note"] = (f"{spec['prior']['note']} The decoder (12-bit weights) runs in your browser: "
                        "the image is the mean of p(x|z).")
    except decoder_export.UntranslatableDecoderError as error:
        if d != 2:
            raise decoder_export.UntranslatableDecoderError(
                f"{error}. For a 2-D latent space static_explorer falls back to a grid of images decoded "
                "in TensorFlow; with this model (latent_dim "
                f"{d}) use tfvae.widgets.latent_explorer(model) in a live kernel") from None
        spec.update(_grid_spec(model, spec["range"]))
        spec["range"] = spec["grid"]["hi"]
        spec["note"] = (f"{spec['prior']['note']} This decoder ({error.args[0].split('; this decoder has ')[-1]}) "
                        f"cannot run in the browser, so the page holds images decoded by TensorFlow on a "
                        f"{GRID_SIDE}x{GRID_SIDE} grid of z; the sliders move between grid points.")
    uid = "tfvae-explorer-" + uuid.uuid4().hex[:12]
    payload = json.dumps(spec, separators=(",", ":")).replace("<", "\\u003c")
    fragment = (
        f'<div class="tfvae-explorer" id="{uid}">'
        f'<p>Latent explorer ({html.escape(str(d))}-dimensional z): needs JavaScript.</p></div>\n'
        f'<script type="application/json" id="{uid}-spec">{payload}</script>\n'
        f"<script>{_explorer_js()}</script>\n"
        f'<script>window.tfvaeExplorer.mount("{uid}");</script>\n'
    )
    return HTML(fragment)


def encoded_anchors(model, images, labels=None, indices=None, *, prefix: str = "encoded test image") -> dict:
    """Starting points for an explorer: the means of q(z|x) for some images.

    Shapes: images (n, h, w), labels (n,) -> {"encoded test image i (label y)": z (d,)}.
    `indices` picks which images (default: the first 10).
    """
    images = validation.images(images, "images", image_shape=model.image_shape)
    indices = list(range(min(10, len(images)))) if indices is None else [int(i) for i in indices]
    codes = model.encode(images[indices]).mean().numpy()
    names = [f"{prefix} {i}" + (f" (label {labels[i]})" if labels is not None else "") for i in indices]
    return dict(zip(names, codes))


def _check_anchors(anchors, d):
    if anchors is None:
        return {}
    if not isinstance(anchors, dict):
        raise InvalidInputError(f"anchors must be a dict name -> latent vector, got {type(anchors).__name__}")
    checked = {}
    for name, z in anchors.items():
        z = np.asarray(z, np.float64)
        if z.shape != (d,):
            raise InvalidInputError(f"anchor {name!r} has shape {z.shape}; expected ({d},), the latent size")
        if not np.isfinite(z).all():
            raise InvalidInputError(f"anchor {name!r} contains NaN or infinite values")
        checked[str(name)] = z
    return checked


def _prior_spec(model) -> dict:
    """How "random from prior" draws: N(0, I) in JavaScript, or draws made here from any other prior."""
    prior = getattr(model, "prior", None)
    if prior is None:
        return {"kind": "standard_normal", "button": "random z ~ N(0, I)",
                "note": "An autoencoder has no prior; the random button draws z from N(0, I)."}
    if _is_standard_normal(prior, model.latent_dim):
        return {"kind": "standard_normal", "button": "random from prior",
                "note": "The random button draws z from the prior N(0, I)."}
    draws = prior.sample(PRIOR_DRAWS, seed=0).numpy()
    return {"kind": "draws", "button": "random from prior", "draws": np.round(draws, 4).tolist(),
            "note": f"The random button picks one of {PRIOR_DRAWS} draws from the model's prior, made in Python."}


def _is_standard_normal(prior, d) -> bool:
    try:
        mean, stddev = prior.mean().numpy(), prior.stddev().numpy()
        return (type(prior).__name__ == "MultivariateNormalDiag" and mean.shape == (d,)
                and np.all(mean == 0) and np.all(stddev == 1))
    except (NotImplementedError, ValueError, TypeError):
        return False


def _grid_spec(model, latent_range):
    """The 2-D fallback: E[x|z] decoded by TensorFlow on a GRID_SIDE x GRID_SIDE grid, as bytes."""
    import base64
    axis = np.linspace(-latent_range, latent_range, GRID_SIDE)
    z1, z2 = np.meshgrid(axis, axis)  # row i holds z2 = axis[i]: the JavaScript reads index (i2 * n + i1)
    z = np.stack([z1.ravel(), z2.ravel()], axis=1).astype(np.float32)
    means = model.decode(z).mean().numpy()
    pixels = np.rint(255 * np.clip(means, 0, 1)).astype(np.uint8)
    return {"mode": "grid", "grid": {"n": GRID_SIDE, "lo": -float(latent_range), "hi": float(latent_range),
                                     "step": float(axis[1] - axis[0]),
                                     "pixels": base64.b64encode(pixels.tobytes()).decode("ascii")}}


def _explorer_js() -> str:
    return importlib.resources.files("tfvae").joinpath("explorer.js").read_text(encoding="utf-8")
