"""The static latent explorer: z -> E[x|z] under sliders, in any browser, with no kernel.

`static_explorer(model)` returns self-contained HTML + JavaScript. The decoder's weights
travel inside the page (`tfvae.explore.decoder_export`) and `explorer.js` evaluates the
decoder in the browser, so it works in the built book, with no kernel and no network. It
shows one slider per latent coordinate (or the first few, each with a selector of the
coordinate it drives), "random from prior" and "reset" buttons, and starting points such
as encoded test images (`tfvae.explore.anchors.encoded_anchors`) or a mixture prior's
component means.
"""

from __future__ import annotations

import base64
import html
import importlib.resources
import json
import math
import uuid
import warnings

import numpy as np

from tfvae import checks
from tfvae.explore import decoder_export
from tfvae.explore.anchors import check_anchors, check_latent_range

PRIOR_DRAWS = 64  # prior samples shipped in the page when the prior is not N(0, I)
GRID_SIDE = 21  # grid points per axis for the 2-D fallback (fewer for large images, see _grid_side)
GRID_BYTES = 600_000  # the fallback grid's images take at most this much (before base64)
PAGE_WARNING_BYTES = 1_000_000  # an explorer bigger than this makes the page slow to load: warn


def static_explorer(model, *, anchors=None, latent_range: float = 3.0, max_sliders: int | None = None):
    """A latent explorer that runs in any browser: sliders over z, E[x|z] on a canvas.

    Args:
      model: a tfvae model with an MLP decoder (Dense layers; see `tfvae.explore.decoder_export`),
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
    anchors = check_anchors(anchors, d)
    check_latent_range(latent_range)
    slider_count = d if max_sliders is None else min(d, checks.positive_int(max_sliders, "max_sliders"))
    spec = {"latent_dim": d, "image_shape": [int(s) for s in model.image_shape], "slider_count": slider_count,
            "anchors": [{"name": name, "z": [round(float(v), 4) for v in z]} for name, z in anchors.items()],
            "prior": _prior_spec(model)}
    largest_anchor = max((abs(v) for a in spec["anchors"] for v in a["z"]), default=0.0)
    spec["range"] = float(max(latent_range, math.ceil(2 * largest_anchor) / 2))
    try:
        spec["decoder"] = decoder_export.export_decoder(model)
        spec["mode"] = "mlp"
        spec["note"] = (f"{spec['prior']['note']} The decoder (weights rounded to 13 bits) runs in your browser: "
                        "the image is the mean of p(x|z).")
    except decoder_export.UntranslatableDecoderError as error:
        if d != 2:
            raise decoder_export.UntranslatableDecoderError(
                f"{error}. For a 2-D latent space static_explorer falls back to a grid of images decoded "
                f"in TensorFlow; with this model (latent_dim {d}) use tfvae.explore.latent_explorer(model) "
                "in a live kernel", error.found) from None
        spec.update(_grid_spec(model, spec["range"]))
        spec["range"] = spec["grid"]["hi"]
        side = spec["grid"]["n"]
        spec["note"] = (f"{spec['prior']['note']} This decoder ({error.found}) "
                        f"cannot run in the browser, so the page holds images decoded by TensorFlow on a "
                        f"{side}x{side} grid of z; the sliders move between grid points.")
    uid = "tfvae-explorer-" + uuid.uuid4().hex[:12]
    payload = json.dumps(spec, separators=(",", ":")).replace("<", "\\u003c")
    fragment = (
        f'<div class="tfvae-explorer" id="{uid}">'
        f'<p>Latent explorer ({html.escape(str(d))}-dimensional z): needs JavaScript.</p></div>\n'
        f'<script type="application/json" id="{uid}-spec">{payload}</script>\n'
        f"<script>{_explorer_js()}</script>\n"
        # Find the root beside this script even if the output is not in the document yet.
        f'<script>(function () {{ const here = document.currentScript && document.currentScript.parentNode; '
        f'window.tfvaeExplorer.mount((here && here.querySelector && here.querySelector("#{uid}")) '
        f'|| document.getElementById("{uid}")); }})();</script>\n'
    )
    if len(fragment) > PAGE_WARNING_BYTES:
        warnings.warn(f"this latent explorer adds {len(fragment):,} bytes to the page (the paper's 784-500-20 "
                      "decoder takes about 0.9 MB); a smaller decoder keeps the page light", stacklevel=2)
    return HTML(fragment)


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
    """The 2-D fallback: E[x|z] decoded by TensorFlow on a square grid of z (see _grid_side), as bytes."""
    side = _grid_side(model.image_shape)
    axis = np.linspace(-latent_range, latent_range, side)
    z1, z2 = np.meshgrid(axis, axis)  # row i holds z2 = axis[i]: the JavaScript reads index (i2 * n + i1)
    z = np.stack([z1.ravel(), z2.ravel()], axis=1).astype(np.float32)
    means = model.decode(z).mean().numpy()
    pixels = np.rint(255 * np.clip(means, 0, 1)).astype(np.uint8)
    return {"mode": "grid", "grid": {"n": side, "lo": -float(latent_range), "hi": float(latent_range),
                                     "step": float(axis[1] - axis[0]),
                                     "pixels": base64.b64encode(pixels.tobytes()).decode("ascii")}}


def _grid_side(image_shape) -> int:
    """Grid points per axis: GRID_SIDE, or fewer so the images fit in GRID_BYTES; odd, so z = 0 is on the grid."""
    side = min(GRID_SIDE, int(math.sqrt(GRID_BYTES / math.prod(image_shape))))
    return max(5, side - (side + 1) % 2)


def _explorer_js() -> str:
    return importlib.resources.files("tfvae.explore").joinpath("explorer.js").read_text(encoding="utf-8")


