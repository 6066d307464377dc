"""The latent explorer and the math in pages built by Jupyter Book, opened offline in Chromium.

Two sources of pages:
* TFVAE_BOOK_HTML=<built book's html folder> (CI sets it after `jupyter-book build .`): the
  chapters that hold an explorer (01, 06, 10, 11). The expected image comes from the weights
  exported in the page, decoded in NumPy (`tfvae.explore.decoder_export.decode_exported`).
* otherwise: a tiny book built here with the project's _config.yml, one notebook that trains a
  small VAE on scikit-learn's digits, saves it, and shows `static_explorer`; the expected
  image is the TensorFlow decoder's output of the saved model.

Every request that is not a local file is refused, so the pages must work offline
(MathJax from _static, see book/_ext/local_mathjax.py).
"""

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from chromium import CHROMIUM, LAUNCH_ARGS, missing_browser, skip_module_unless_runnable
from tfvae import serialization
from tfvae.explore import decoder_export

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
CHAPTERS = ["01_autoencoders", "06_aevb", "10_beta_vae", "11_gmvae"]

skip_module_unless_runnable(missing_browser(), "the browser test")
import playwright.sync_api as sync_api  # noqa: E402  (after the skip)

TINY_NOTEBOOK = [
    ("markdown", "# A tiny explorer page\n\nThe decoder's mean is $\\mathbb{E}[x \\mid z]$ with\n\n"
                 "$$\np_\\theta(x \\mid z) = \\prod_i \\mathrm{Bernoulli}(x_i; \\sigma(f_\\theta(z))_i)\n$$ (eq-tiny)\n\n"
                 "and {eq}`eq-tiny` is what the sliders show."),
    ("code", "from tfvae import data, explore, models, serialization, training"),
    ("code", "ds = data.load('digits')\ntraining.set_seed(0)\n"
             "mlp = models.build(image_shape=ds.image_shape, latent_dim=3, hidden_units=64)\n"
             "conv = models.build(image_shape=ds.image_shape, latent_dim=2, architecture='conv')\n"
             "for name, model in [('mlp', mlp), ('conv', conv)]:\n"
             "    training.fit(model, ds, epochs=2, batch_size=50, binarization='static', validate=False)\n"
             "    serialization.save(model, f'{MODEL_DIR}/{name}')"),
    ("code", "explore.static_explorer(mlp, anchors=explore.encoded_anchors(mlp, ds.test.x, ds.test.y, [0, 1, 2]))"),
    ("markdown", "Move a slider: the image above is decoded in the browser. Below, a convolutional decoder, "
                 "which the browser cannot run: a grid of images decoded in TensorFlow."),
    ("code", "explore.static_explorer(conv)"),
]


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """[(name, path of the html page, expected(k, spec, z) -> (h, w) means of the page's k-th explorer)]."""
    built = os.environ.get("TFVAE_BOOK_HTML")
    if built:
        found = [(name, Path(built).resolve() / "book" / f"{name}.html") for name in CHAPTERS]
        found = [(name, path) for name, path in found
                 if path.exists() and "tfvae-explorer" in path.read_text(encoding="utf-8")]
        missing = sorted(set(CHAPTERS) - {name for name, _ in found})
        assert not missing, f"these chapters of {built} hold no latent explorer: {missing}"
        return [(name, path, expected_from_page) for name, path in found]
    return [("tiny_book", *build_tiny_book(tmp_path_factory.mktemp("tiny_book")))]


def build_tiny_book(root: Path):
    shutil.copy(REPO / "_config.yml", root / "_config.yml")
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/tiny\n")
    (root / "book").mkdir()
    shutil.copy(REPO / "book" / "references.bib", root / "book" / "references.bib")
    shutil.copytree(REPO / "book" / "_ext", root / "book" / "_ext")
    # What the project's _config.yml names: the API reference's inventories and the package it documents.
    shutil.copytree(REPO / "book" / "_inventories", root / "book" / "_inventories")
    (root / "tfvae").symlink_to(REPO / "tfvae")
    if (REPO / "node_modules").is_dir():
        (root / "node_modules").symlink_to(REPO / "node_modules")
    model_dir = root / "model"
    cells = [nbformat.v4.new_markdown_cell(src) if kind == "markdown" else nbformat.v4.new_code_cell(src)
             for kind, src in TINY_NOTEBOOK]
    cells[1].source = f"MODEL_DIR = {str(model_dir)!r}\n" + cells[1].source
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(notebook, root / "book" / "tiny.ipynb")
    jupyter_book = shutil.which("jupyter-book") or str(Path(sys.executable).parent / "jupyter-book")
    result = subprocess.run([jupyter_book, "build", str(root), "-W", "-n", "--keep-going"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"jupyter-book build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    saved = [serialization.load(model_dir / name) for name in ("mlp", "conv")]

    def expected_from_model(k, spec, z):
        return saved[k].decode(np.asarray(z, np.float32)[None]).mean().numpy()[0]

    return root / "_build" / "html" / "book" / "tiny.html", expected_from_model


def expected_from_page(k, spec, z):
    """E[x|z] from what the page itself carries: the exported decoder, or the grid of images."""
    if spec["mode"] == "grid":
        grid, (h, w) = spec["grid"], spec["image_shape"]
        index = [int(np.clip(np.rint((v - grid["lo"]) / grid["step"]), 0, grid["n"] - 1)) for v in z]
        pixels = np.frombuffer(base64.b64decode(grid["pixels"]), np.uint8).reshape(grid["n"], grid["n"], h, w)
        return pixels[index[1], index[0]] / 255.0
    return decoder_export.decode_exported(spec["decoder"], z)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


def open_offline(browser, path: Path):
    """Open a page with every non-file request refused; returns (page, errors, refused URLs)."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors, refused = [], []
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.on("console", lambda message: errors.append(f"console error: {message.text}")
            if message.type == "error" else None)

    def route(request_route):
        if request_route.request.url.startswith("file://"):
            request_route.continue_()
        else:
            refused.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    page.goto(path.as_uri(), wait_until="load")
    return page, errors, refused


CANVAS_AND_STATE = """root => {
  const canvas = root.querySelector('canvas.tfvae-image');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const grey = [];
  for (let p = 0; p < data.length; p += 4) grey.push(data[p]);
  return {grey: grey, z: root.tfvaeExplorer.getZ(),
          spec: JSON.parse(document.getElementById(root.id + '-spec').textContent)};
}"""

GET_Z = "root => root.tfvaeExplorer.getZ()"

MOVE_SLIDER = """([root, index, value]) => {
  const slider = root.querySelectorAll('input.tfvae-slider')[index];
  slider.value = String(value);
  slider.dispatchEvent(new Event('input', {bubbles: true}));
  return slider.valueAsNumber;
}"""


def check_explorer(page, root, where, expected, against_tensorflow):
    """Move the explorer's first slider; the canvas must change and show E[x|z] at the new z."""
    page.wait_for_function("root => root.tfvaeExplorer !== undefined", arg=root, timeout=10_000)
    before = page.evaluate(CANVAS_AND_STATE, root)
    spec = before["spec"]
    target = 1.8 if spec["mode"] == "mlp" else spec["grid"]["lo"] + 14 * spec["grid"]["step"]
    target = page.evaluate(MOVE_SLIDER, [root, 0, target])  # the value the slider accepted
    after = page.evaluate(CANVAS_AND_STATE, root)
    assert target != 0 and after["z"][0] == pytest.approx(target, abs=1e-9), f"{where}: the slider did not move z1"
    assert after["grey"] != before["grey"], f"{where}: moving a slider left the image unchanged"
    h, w = spec["image_shape"]
    shown = np.array(after["grey"]).reshape(h, w)
    wanted = np.rint(255 * np.clip(expected(spec, after["z"]), 0, 1))
    # The canvas holds bytes, so rounding alone allows 1 grey level. Against TensorFlow an MLP
    # decoder's 13-bit weights add < 1e-2 (tests/test_static_explorer.py), i.e. < 2.55 levels.
    tolerance = 3 if against_tensorflow and spec["mode"] == "mlp" else 1
    difference = np.abs(shown - wanted).max()
    print(f"{where} ({spec['mode']}, latent {spec['latent_dim']}): canvas vs "
          f"{'TensorFlow' if against_tensorflow else 'the page weights'}: max difference {difference:.0f}/255")
    assert difference <= tolerance, f"{where}: canvas differs from the decoder by {difference} grey levels"
    if spec["anchors"] and spec["mode"] == "mlp":
        root.query_selector("select.tfvae-anchors").select_option("0")
        anchor = np.clip(spec["anchors"][0]["z"], -spec["range"], spec["range"])
        assert page.evaluate(GET_Z, root) == pytest.approx(anchor.tolist()), f"{where}: 'start from' missed its anchor"
    z_before = page.evaluate(GET_Z, root)
    root.query_selector("button.tfvae-random").click()
    assert page.evaluate(GET_Z, root) != z_before, f"{where}: 'random from prior' did not move z"
    root.query_selector("button.tfvae-reset").click()
    assert page.evaluate(GET_Z, root) == [0.0] * spec["latent_dim"], f"{where}: 'reset' did not return to z = 0"


def test_explorer_in_built_page_decodes_like_tensorflow_and_math_renders_offline(pages, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    for name, path, expected in pages:
        # MathJax typesets after load; it must come from the book's _static, since the CDN is refused.
        html_root = next(p for p in path.parents if (p / "_static").is_dir())
        local = html_root / "_static" / "mathjax" / "tex-mml-chtml.js"
        assert local.is_file(), (f"{name}: no MathJax at {local}, so math cannot render offline; it is copied "
                                 "from node_modules, which `./run setup` installs with npm")
        page, errors, refused = open_offline(browser, path)
        page.wait_for_selector("mjx-container", state="attached", timeout=30_000)
        assert page.locator("mjx-container").count() > 0, f"{name}: MathJax rendered nothing"
        roots = page.locator("div.tfvae-explorer")
        assert roots.count() >= 1, f"{name}: no latent explorer in the page"
        ids = [roots.nth(k).get_attribute("id") for k in range(roots.count())]
        assert len(set(ids)) == len(ids), f"{name}: two explorers share an id"
        for k in range(roots.count()):
            check_explorer(page, roots.nth(k).element_handle(), f"{name}, explorer {k + 1}",
                           lambda spec, z, k=k: expected(k, spec, z), against_tensorflow=name == "tiny_book")
            roots.nth(k).screenshot(path=str(ARTIFACTS / f"browser_{name}_explorer{k + 1}.png"))
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(ARTIFACTS / f"browser_{name}.png"), full_page=True)
        # Refused external requests (fonts, launch buttons' icons) are expected offline and
        # logged as "Failed to load resource"; any other console error or exception is a bug.
        real_errors = [e for e in errors if "Failed to load resource" not in e]
        assert not real_errors, f"{name}: JavaScript errors: {real_errors}"
        (ARTIFACTS / f"browser_{name}_refused_requests.json").write_text(json.dumps(refused, indent=1))
        page.close()


def test_explorers_mount_when_a_notebook_front_end_inserts_them_like_jupyterlab(browser):
    # JupyterLab sets an output's innerHTML (where scripts never run), replaces every <script>
    # with a fresh copy, and attaches the output; the copies run then, in order.
    from tfvae import explore, models

    model = models.build(image_shape=(8, 8), latent_dim=3, hidden_units=16)
    fragments = [explore.static_explorer(model).data for _ in range(2)]
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_content("<html><body></body></html>")
    mounted = page.evaluate("""fragments => {
      for (const fragment of fragments) {
        const host = document.createElement('div');
        host.innerHTML = fragment;
        for (const old of Array.from(host.getElementsByTagName('script'))) {
          const fresh = document.createElement('script');
          for (const attribute of old.attributes) fresh.setAttribute(attribute.name, attribute.value);
          fresh.textContent = old.textContent;
          old.parentNode.replaceChild(fresh, old);
        }
        document.body.appendChild(host);
      }
      return Array.from(document.querySelectorAll('div.tfvae-explorer'), root => root.tfvaeExplorer !== undefined);
    }""", fragments)
    assert mounted == [True, True] and not errors, errors
    page.close()
