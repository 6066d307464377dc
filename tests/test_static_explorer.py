"""The static latent explorer: the JavaScript decoder computes what TensorFlow computes.

The JavaScript (tfvae/explore/explorer.js) runs in Node here; tests/test_browser.py runs it in Chromium.
"""

import json
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import keras
import numpy as np
import pytest

from tfvae import explore, models, training
from tfvae.explore import decoder_export

NODE = shutil.which("node") or "/usr/bin/node"
EXPLORER_JS = str(resources.files("tfvae.explore").joinpath("explorer.js"))
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

# Untrained (Glorot) weights are smaller than trained ones, which would flatter the 13-bit
# rounding; scaled by 8 the output layer's largest weight is about 0.55, four times what
# three epochs of training on Fashion-MNIST give (0.14).
WEIGHT_SCALE = 8.0


def spec_of(html_fragment: str) -> dict:
    """The JSON spec that static_explorer embeds in its page fragment."""
    match = re.search(r'<script type="application/json" id="([^"]+)-spec">(.*?)</script>', html_fragment, re.S)
    assert match, "the page fragment holds no explorer spec"
    return json.loads(match.group(2))


def node_decode(spec_decoder: dict, z: np.ndarray, tmp_path: Path) -> np.ndarray:
    """E[x|z] computed by explorer.js in Node. Shapes: z (n, d) -> (n, h, w)."""
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"decoder": spec_decoder, "z": np.asarray(z, np.float64).tolist()}))
    script = ("const e = require(process.argv[1]); const job = JSON.parse(require('fs').readFileSync(process.argv[2]));"
              "const d = e.loadDecoder(job.decoder);"
              "process.stdout.write(JSON.stringify(job.z.map(z => Array.from(e.decode(d, z)))));")
    out = subprocess.run([NODE, "-e", script, EXPLORER_JS, str(job)], capture_output=True, text=True, check=True)
    return np.array(json.loads(out.stdout)).reshape((len(z),) + tuple(spec_decoder["image_shape"]))


def paper_model(latent_dim, likelihood="bernoulli", scale=WEIGHT_SCALE):
    """The paper's 784-500-d MLP with its decoder weights scaled (see WEIGHT_SCALE)."""
    training.set_seed(0)  # the same initial weights on every run
    model = models.build(image_shape=(28, 28), latent_dim=latent_dim, likelihood=likelihood, seed=0)
    model.decoder.set_weights([w * scale for w in model.decoder.get_weights()])
    return model


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("latent_dim", [2, 20])
def test_javascript_decoder_matches_tensorflow_decoder(latent_dim, likelihood, tmp_path):
    model = paper_model(latent_dim, likelihood)
    spec = spec_of(explore.static_explorer(model).data)
    z = np.random.default_rng(1).normal(scale=1.5, size=(64, latent_dim)).astype(np.float32)
    in_tensorflow = model.decode(z).mean().numpy()
    in_javascript = node_decode(spec["decoder"], z, tmp_path)
    in_numpy = decoder_export.decode_exported(spec["decoder"], z)
    # Same rounded weights, float64 arithmetic in both, float32 storage of the dequantized
    # kernel in JavaScript (relative 6e-8 per weight): the port itself must agree to 1e-5.
    assert np.abs(in_javascript - in_numpy).max() < 1e-5
    # Against TensorFlow the 13-bit rounding counts: each weight moves by at most step/2 with
    # step = (column's largest |w|)/4095 ~ 1.3e-4 here; 500 independent roundings times
    # |tanh| <= 1 give a pre-link error with spread <= sqrt(500/12) step ~ 9e-4, and the
    # largest of 64 x 784 such errors stays under ~5 spreads = 4.5e-3 (the sigmoid's slope
    # <= 1/4 shrinks it further for Bernoulli). 1e-2 is one grey level in 100, 2.5 in 255.
    difference = np.abs(in_javascript - in_tensorflow).max()
    print(f"latent {latent_dim}, {likelihood}: max |JS - TF| pixel difference {difference:.2e}")
    assert difference < 1e-2


def test_exported_decoder_at_realistic_weights_agrees_to_a_thousandth(tmp_path):
    # Unscaled (Glorot) weights: the rounding error shrinks with the weights (1e-3 is ~10 of its spreads).
    model = paper_model(20, "bernoulli", scale=1.0)
    z = np.random.default_rng(2).normal(size=(32, 20)).astype(np.float32)
    spec = decoder_export.export_decoder(model)
    assert np.abs(node_decode(spec, z, tmp_path) - model.decode(z).mean().numpy()).max() < 1e-3


def test_a_deep_relu_decoder_runs_in_javascript_as_in_tensorflow(tmp_path):
    # Chapter 10's explorer holds a "deep_mlp" model: three ReLU layers before the output layer.
    training.set_seed(0)
    model = models.build(image_shape=(32, 32), latent_dim=10, architecture="deep_mlp", hidden_units=64, seed=0)
    assert [layer.activation.__name__ for layer in model.decoder.layers[:3]] == ["relu"] * 3
    z = np.random.default_rng(3).normal(size=(32, 10)).astype(np.float32)
    spec = decoder_export.export_decoder(model)
    assert len(spec["layers"]) == 4
    in_javascript = node_decode(spec, z, tmp_path)
    assert np.abs(in_javascript - decoder_export.decode_exported(spec, z)).max() < 1e-5
    assert np.abs(in_javascript - model.decode(z).mean().numpy()).max() < 1e-3


@pytest.mark.parametrize("bits", [5, 13, 16])
def test_bit_packing_round_trips_every_value_including_the_extremes(bits):
    top = 2 ** (bits - 1) - 1
    q = np.concatenate([[-top, top, 0, -1, 1], np.random.default_rng(0).integers(-top, top + 1, 997)])
    assert np.array_equal(decoder_export.unpack_bits(decoder_export.pack_bits(q, bits), bits, len(q)), q)


def test_untranslatable_decoder_error_names_the_layer_type():
    model = models.build(image_shape=(28, 28), latent_dim=5, architecture="conv")
    with pytest.raises(decoder_export.UntranslatableDecoderError, match="Conv2DTranspose") as caught:
        explore.static_explorer(model)
    assert "Dense layers with tanh/relu/sigmoid/linear activations" in str(caught.value)
    assert "latent_explorer" in str(caught.value)  # and it says what to use instead


def test_dense_layer_with_untranslatable_activation_is_named():
    model = models.build(image_shape=(8, 8), latent_dim=3, hidden_units=16)
    model.decoder.get_layer("hidden").activation = keras.activations.get("softplus")
    with pytest.raises(decoder_export.UntranslatableDecoderError, match="'softplus'"):
        decoder_export.export_decoder(model)


def test_two_dimensional_untranslatable_decoder_falls_back_to_tensorflow_grid(tmp_path):
    model = models.build(image_shape=(28, 28), latent_dim=2, architecture="conv")
    spec = spec_of(explore.static_explorer(model, latent_range=2.0).data)
    assert spec["mode"] == "grid" and "Conv2DTranspose" in spec["note"]
    grid = spec["grid"]
    job = tmp_path / "grid.json"
    z = np.array([[-2.0, -2.0], [0.2, -1.0], [2.0, 0.6]])  # grid points (step 0.2)
    job.write_text(json.dumps({"grid": grid, "shape": spec["image_shape"], "z": z.tolist()}))
    script = ("const e = require(process.argv[1]); const job = JSON.parse(require('fs').readFileSync(process.argv[2]));"
              "const g = e.gridDecoder(job.grid, job.shape);"
              "process.stdout.write(JSON.stringify(job.z.map(z => Array.from(g.decode(z)))));")
    out = subprocess.run([NODE, "-e", script, EXPLORER_JS, str(job)], capture_output=True, text=True, check=True)
    shown = np.array(json.loads(out.stdout)).reshape(3, 28, 28)
    expected = model.decode(z.astype(np.float32)).mean().numpy()
    # Grid images are stored as bytes: rounding to 1/255 is the only difference (plus float32 noise).
    assert np.abs(shown - np.clip(expected, 0, 1)).max() <= 0.5 / 255 + 1e-6


def test_page_weight_of_paper_decoder_is_at_most_one_megabyte():
    sizes = {}
    for latent_dim in (2, 20):
        model = models.build(image_shape=(28, 28), latent_dim=latent_dim)
        anchors = {f"encoded test image {i}": np.zeros(latent_dim) for i in range(10)}
        sizes[latent_dim] = len(explore.static_explorer(model, anchors=anchors).data.encode("utf-8"))
    print(f"explorer page weight in bytes: latent 2: {sizes[2]:,}; latent 20: {sizes[20]:,}")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "explorer_sizes.json").write_text(json.dumps(sizes))
    assert max(sizes.values()) <= 1_000_000


def test_explorers_on_one_page_have_distinct_element_ids():
    model = models.build(image_shape=(8, 8), latent_dim=3, hidden_units=16)
    ids = [re.findall(r'id="([^"]+)"', explore.static_explorer(model).data) for _ in range(3)]
    flat = [i for page in ids for i in page]
    assert len(flat) == len(set(flat)) == 6  # each explorer: its root and its spec


def test_sliders_can_drive_chosen_coordinates_when_latent_space_is_large():
    model = models.build(image_shape=(8, 8), latent_dim=12, hidden_units=16)
    spec = spec_of(explore.static_explorer(model, max_sliders=4).data)
    assert spec["slider_count"] == 4 and spec["latent_dim"] == 12


def test_slider_range_widens_to_hold_every_anchor():
    model = models.build(image_shape=(8, 8), latent_dim=2, hidden_units=16)
    spec = spec_of(explore.static_explorer(model, anchors={"far": [4.2, 0.0]}, latent_range=3.0).data)
    assert spec["range"] >= 4.2


def test_anchor_of_wrong_size_is_rejected_naming_it():
    model = models.build(image_shape=(8, 8), latent_dim=3, hidden_units=16)
    with pytest.raises(ValueError, match="anchor 'cluster 1' has shape \\(2,\\); expected \\(3,\\)"):
        explore.static_explorer(model, anchors={"cluster 1": [0.0, 1.0]})


def test_prior_other_than_standard_normal_ships_draws_from_it():
    import tensorflow_probability as tfp

    class ShiftedPrior(models.VAE):
        @property
        def prior(self):
            return tfp.distributions.MultivariateNormalDiag(loc=[5.0, 5.0], scale_diag=[0.1, 0.1])

    model = ShiftedPrior(models.ModelConfig(image_shape=(8, 8), latent_dim=2, hidden_units=16))
    spec = spec_of(explore.static_explorer(model, latent_range=6.0).data)
    draws = np.array(spec["prior"]["draws"])
    assert spec["prior"]["kind"] == "draws" and draws.shape == (explore.static.PRIOR_DRAWS, 2)
    assert abs(draws.mean() - 5.0) < 0.1  # 64 draws with sd 0.1: the mean's sd is 0.0125


def test_standard_normal_prior_is_sampled_in_the_browser():
    model = models.build(image_shape=(8, 8), latent_dim=3, hidden_units=16)
    assert spec_of(explore.static_explorer(model).data)["prior"]["kind"] == "standard_normal"


def test_grid_fallback_for_large_images_keeps_the_page_under_one_megabyte():
    model = models.build(image_shape=(64, 64), latent_dim=2, architecture="conv")
    fragment = explore.static_explorer(model).data
    spec = spec_of(fragment)
    assert spec["mode"] == "grid" and spec["grid"]["n"] % 2 == 1  # odd: z = 0 is a grid point
    assert len(fragment.encode("utf-8")) <= 1_000_000


def test_an_explorer_heavier_than_one_megabyte_warns():
    model = models.build(image_shape=(40, 40), latent_dim=4, hidden_units=500)  # 500 x 1600 weights: 1.7 MB
    with pytest.warns(UserWarning, match="adds .* bytes to the page"):
        explore.static_explorer(model)
