"""The live latent explorer (ipywidgets + ipyevents) in a real JupyterLab, driven by Chromium.

tests/test_widgets.py drives `tfvae.explore.latent_explorer` from Python only. Here a JupyterLab
server (this environment's, on a free loopback port, with a random token, temporary root,
config, data, runtime and home folders) runs a notebook that trains a tiny VAE on scikit-learn's
digits, saves it and shows the explorer. Playwright opens the notebook, runs it through the
front end's Run menu, and then, with the pointer:

* drags the z1 slider's handle: the picture must change and equal the decoder's mean at the z
  the sliders show, decoded here from the saved model and rendered to PNG by the widget's own
  code (`tfvae.explore.mean_image_png`);
* clicks the pad (the scatter of encoded test images): the picture must jump to the decoded
  encoding of the test image nearest to the clicked point (the mapping of `LatentExplorer.pad_click`);
* restarts the kernel from the Kernel menu: no traceback may appear; re-running the notebook
  must give a working explorer again.

The server and its kernels are shut down (and, failing that, killed by process id) whatever
happens. Screenshots and the server's log go to test-artifacts/. Like tests/test_browser.py,
the module skips without a browser unless TFVAE_REQUIRE_BROWSER=1 (CI), where it fails.
"""

import base64
import io
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import numpy as np
import psutil
import pytest
from PIL import Image

from chromium import CHROMIUM, LAUNCH_ARGS, missing_browser, skip_module_unless_runnable

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"


def _missing() -> str | None:
    missing = missing_browser()
    if missing is None:
        try:
            import ipyevents  # noqa: F401  (without it the pad is not clickable, which this test checks)
            import ipywidgets  # noqa: F401
            import jupyterlab  # noqa: F401
        except ImportError as error:
            missing = f"{error.name} is not installed (./run setup installs it)"
    return missing


skip_module_unless_runnable(_missing(), "the live explorer's browser test")
import playwright.sync_api as sync_api  # noqa: E402  (after the skip)

from tfvae import data, explore, serialization  # noqa: E402  (after the skip: TensorFlow's import is slow)

NOTEBOOK = "explorer.ipynb"
KERNEL_DISPLAY_NAME = "Python 3 (tfvae tests)"
SERVER_START_SECONDS = 60
RUN_SECONDS = 120  # kernel start, TensorFlow's import, training, first render
# The picture is 8-bit, so both sides are compared as the widget's PNG grey levels. The kernel
# decodes in a tf.function, this test eagerly, from the same float32 weights (saved and loaded)
# and the same z (after a drag: the readouts, which show 2 decimals of values on the sliders' 0.01
# grid, so they are the values themselves; after a pad click: the encoding, computed here with the
# same weights). float32 differences of ~1e-7 can move a mean across a rounding boundary: 1 grey
# level, never more.
GREY_TOLERANCE = 1

CELLS = [
    "import sys\n"
    "assert sys.prefix == {prefix!r}, f'the kernel runs {{sys.prefix}}, not the test environment'\n"
    "from pathlib import Path\n"
    "from tfvae import data, explore, models, serialization, training\n"
    "MODEL_DIR = Path({model_dir!r})",
    # Trained once; the run after a kernel restart loads the same weights instead of retraining.
    "ds = data.load('digits')\n"
    "if (MODEL_DIR / 'config.json').exists():\n"
    "    model = serialization.load(MODEL_DIR)\n"
    "else:\n"
    "    training.set_seed(0)\n"
    "    model = models.build(image_shape=ds.image_shape, latent_dim=2, hidden_units=32, seed=0)\n"
    "    training.fit(model, ds, epochs=5, batch_size=50, binarization='static', validate=False,\n"
    "                 jit_compile=False, verbose=0)\n"
    "    serialization.save(model, MODEL_DIR)",
    "explore.latent_explorer(model, ds.test.x, ds.test.y)",
]


# --- the server --------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class JupyterLab:
    """`python -m jupyterlab` in its own process group, on loopback, with everything in `base`."""

    def __init__(self, base: Path):
        self.base = base
        self.root = base / "root"
        self.model_dir = base / "model"
        self.port, self.token = free_port(), secrets.token_hex(24)
        self.url = f"http://127.0.0.1:{self.port}"
        folders = {name: base / name for name in ("config", "data", "runtime", "home", "ipython", "lab_settings",
                                                  "lab_workspaces")}
        for folder in [self.root, *folders.values()]:
            folder.mkdir(parents=True, exist_ok=True)
        # The kernel must be this environment's Python: a python3 kernelspec naming sys.executable,
        # in the data folder, which Jupyter searches first (with JUPYTER_PREFER_ENV_PATH=0; by default
        # a virtual environment's own share/jupyter comes first).
        spec = folders["data"] / "kernels" / "python3"
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": KERNEL_DISPLAY_NAME, "language": "python"}))
        self.env = dict(os.environ, JUPYTER_CONFIG_DIR=str(folders["config"]), JUPYTER_DATA_DIR=str(folders["data"]),
                        JUPYTER_RUNTIME_DIR=str(folders["runtime"]), HOME=str(folders["home"]),
                        IPYTHONDIR=str(folders["ipython"]), JUPYTERLAB_SETTINGS_DIR=str(folders["lab_settings"]),
                        JUPYTERLAB_WORKSPACES_DIR=str(folders["lab_workspaces"]),
                        MPLCONFIGDIR=str(folders["home"] / "mpl"), TF_CPP_MIN_LOG_LEVEL="3",
                        TFVAE_NO_PROGRESS="1", PYTHONUNBUFFERED="1", JUPYTER_PREFER_ENV_PATH="0")
        # No "get notified about Jupyter news?" toast over the page, and no update check.
        notification = folders["lab_settings"] / "@jupyterlab" / "apputils-extension"
        notification.mkdir(parents=True)
        (notification / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        self.env.pop("JUPYTER_PATH", None)
        self.log_path = ARTIFACTS / "live_explorer_jupyter.log"
        self.process = None
        self.kernels = {}  # pid -> psutil.Process of every kernel seen

    def start(self):
        ARTIFACTS.mkdir(exist_ok=True)
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
             f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
             # Nothing from outside: no news feed, no update check, no terminals.
             "--ServerApp.terminals_enabled=False", "--LabApp.news_url=None",
             "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
             *(["--allow-root"] if os.geteuid() == 0 else [])],
            cwd=self.root, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"jupyter lab exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                self.api("GET", "/api/status")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    raise AssertionError(f"jupyter lab did not answer in {SERVER_START_SECONDS} s:\n{self.log_tail()}")
                time.sleep(0.3)

    def api(self, method, path, timeout=10):
        request = urllib.request.Request(self.url + path, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, chars=4000) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def kernel_processes(self) -> set[int]:
        """The ids of the server's running child processes (its kernels). Each is remembered as a
        psutil.Process (which knows its start time, so a reused id is never mistaken for it), to be
        killed if the shutdown leaves it running."""
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return set()
        running = [c for c in children if alive(c)]
        self.kernels.update({c.pid: c for c in running if c.pid not in self.kernels})
        return {c.pid for c in running}

    def write_notebook(self):
        cells = [nbformat.v4.new_code_cell(src.format(prefix=sys.prefix, model_dir=str(self.model_dir)))
                 for src in CELLS]
        notebook = nbformat.v4.new_notebook(cells=cells, metadata={
            "kernelspec": {"name": "python3", "display_name": KERNEL_DISPLAY_NAME, "language": "python"}})
        nbformat.write(notebook, self.root / NOTEBOOK)

    def stop(self):
        """Shut the kernels and the server down; kill whatever is left, by process id and group."""
        if self.process is None:
            return
        self.kernel_processes()
        if self.process.poll() is None:
            try:  # a server that does not answer is killed below
                for kernel in self.api("GET", "/api/kernels"):
                    self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=20)
                self.api("POST", "/api/shutdown", timeout=20)
            except (urllib.error.URLError, OSError):
                pass
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        if self.process.poll() is None:  # not reaped yet, so its id (= its group's) is still ours
            os.killpg(self.process.pid, signal.SIGKILL)
        for kernel in self.kernels.values():  # each kernel runs in a session of its own
            if alive(kernel):
                for child in kernel.children(recursive=True):
                    child.kill()
                kernel.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        psutil.wait_procs(list(self.kernels.values()), timeout=10)
        self.log.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = JupyterLab(tmp_path_factory.mktemp("live_explorer"))
    try:
        server.start()
        server.write_notebook()
        yield server
    finally:
        server.stop()
    left = [p.pid for p in server.kernels.values() if alive(p)]
    left += [server.process.pid] if server.process is not None and server.process.poll() is None else []
    assert not left, f"processes left running after the server's shutdown: {left}"


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


# --- the front end -----------------------------------------------------------------------------

PNG_OF_IMAGE = """async img => {
  const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}"""


def menu(page, top: str, item: str):
    """Click a JupyterLab menu bar entry, then its item labelled `item` (or `item` + an ellipsis)."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(top)}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}\u2026?$")).click()


def tracebacks(page) -> list[str]:
    texts = page.locator(".jp-OutputArea-output").all_inner_texts()
    return [t for t in texts if "Traceback" in t or "Error" in t]


class Explorer:
    """The explorer's DOM in the notebook's last output: the picture, the pad, the sliders, the status."""

    def __init__(self, page, output):
        self.page = page
        images = output.locator("img.widget-image")
        self.image, self.pad = images.nth(0), images.nth(1)
        self.sliders = output.locator(".widget-slider")
        self.status = output.locator(".widget-html-content")

    def readouts(self) -> list[float]:
        return [float(self.sliders.nth(k).locator(".widget-readout").inner_text())
                for k in range(self.sliders.count())]

    def picture(self) -> np.ndarray:
        """The grey levels of the PNG the image widget shows (its bytes, fetched from the <img>)."""
        for _ in range(20):  # the blob URL is revoked when a newer picture arrives: read again
            try:
                png = base64.b64decode(self.image.evaluate(PNG_OF_IMAGE))
                return np.asarray(Image.open(io.BytesIO(png)).convert("L")).astype(int)
            except sync_api.Error:
                time.sleep(0.1)
        raise AssertionError("could not read the explorer's picture")


def wait_for_explorer(page, where: str) -> Explorer:
    output = page.locator(".jp-Cell").last.locator(".jp-OutputArea-output:not([data-tfvae-stale])")
    try:
        output.locator(".widget-slider").nth(1).wait_for(state="visible", timeout=RUN_SECONDS * 1000)
        output.locator("img.widget-image").nth(1).wait_for(state="visible", timeout=10_000)
    except sync_api.TimeoutError:
        page.screenshot(path=str(ARTIFACTS / f"live_explorer_{where}_timeout.png"), full_page=True)
        raise AssertionError(f"{where}: the explorer did not render; outputs: "
                             f"{page.locator('.jp-OutputArea-output').all_inner_texts()}") from None
    explorer = Explorer(page, output)
    explorer.page.wait_for_function("img => img.naturalWidth > 0 && img.src.startsWith('blob:')",
                                    arg=explorer.image.element_handle(), timeout=10_000)
    return explorer


def expected_picture(model, z, zoom) -> np.ndarray:
    """What the image widget must show at z: the saved model's mean, through the widget's PNG code."""
    means = model.decode(np.asarray(z, np.float32)[None]).mean().numpy()[0]
    png = explore.live.mean_image_png(means, zoom)
    return np.asarray(Image.open(io.BytesIO(png))).astype(int)


def wait_for_picture(explorer, model, z_of_page, not_equal_to=None, seconds=20):
    """Poll until the picture differs from `not_equal_to` and shows E[x|z] for z = z_of_page() (the
    kernel may still be drawing the points a drag passed through). Returns (picture, z, max grey
    level difference from the expected picture, whether it changed), on success or after `seconds`."""
    w = model.image_shape[1]
    deadline = time.monotonic() + seconds
    while True:
        shown, z = explorer.picture(), z_of_page()
        zoom = shown.shape[1] // w
        difference = np.abs(shown - expected_picture(model, z, zoom)).max()
        changed = not_equal_to is None or not np.array_equal(shown, not_equal_to)
        if (changed and difference <= GREY_TOLERANCE) or time.monotonic() > deadline:
            return shown, z, difference, changed
        time.sleep(0.2)


def drag_slider(page, explorer, index: int, pixels: float) -> None:
    handle = explorer.sliders.nth(index).locator(".noUi-handle")
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + pixels / 2, y, steps=5)
    page.mouse.move(x + pixels, y, steps=5)
    page.mouse.up()


def check_drag(page, explorer, model, where: str):
    """Drag z1's handle to the right: the picture must change to E[x|z] at the sliders' new values."""
    before_z, before = explorer.readouts(), explorer.picture()
    drag_slider(page, explorer, 0, 45)
    readout = explorer.sliders.nth(0).locator(".widget-readout")
    page.wait_for_function("([el, old]) => el.innerText.trim() !== old",
                           arg=[readout.element_handle(), f"{before_z[0]:.2f}"], timeout=10_000)
    shown, z, difference, changed = wait_for_picture(explorer, model, explorer.readouts, not_equal_to=before)
    print(f"{where}: dragged z1 {before_z[0]:+.2f} -> {z[0]:+.2f} (z2 {z[1]:+.2f}); picture vs decoder: "
          f"max difference {difference}/255")
    assert z[0] > before_z[0] and z[1] == before_z[1], f"{where}: the drag moved the sliders {before_z} -> {z}"
    assert changed, f"{where}: dragging a slider left the picture unchanged"
    assert difference <= GREY_TOLERANCE, (f"{where}: the picture differs from the decoder's mean at z = {z} "
                                          f"by {difference} grey levels")


def check_pad_click(page, explorer, model, images, where: str):
    """Click the pad on an isolated encoded test image: the picture must jump to its decoded encoding."""
    r = 3.0  # latent_explorer's default latent_range, which the notebook keeps
    codes = model.encode(images).mean().numpy().astype(np.float64)
    inside = np.flatnonzero(np.all(np.abs(codes) < 0.8 * r, axis=1))
    assert len(inside) > 1, "the tiny model encodes (almost) every test image outside the pad"
    gaps = np.sort(np.sqrt(((codes[inside, None] - codes[None]) ** 2).sum(-1)), axis=1)[:, 1]
    pick = int(inside[np.argmax(gaps)])
    box = explorer.pad.bounding_box()
    # pad_click's mapping, inverted: x = (z_a / r + 1) / 2 * width, y = (1 - z_b / r) / 2 * height.
    x = box["x"] + (codes[pick, 0] / r + 1) / 2 * box["width"]
    y = box["y"] + (1 - codes[pick, 1] / r) / 2 * box["height"]
    before = explorer.picture()
    page.mouse.click(x, y)
    # What the widget receives (ipyevents' relativeX/Y: rounded offsets in the pad's bounding
    # rectangle, whose size it also sends), through pad_click's mapping: the target z and its
    # nearest encoded test image.
    rel_x, rel_y = round(x - box["x"]), round(y - box["y"])
    target = np.array([(rel_x / box["width"] * 2 - 1) * r, (1 - rel_y / box["height"] * 2) * r])
    nearest = int(np.argmin(((codes - target) ** 2).sum(axis=1)))
    assert nearest == pick, f"the click at {target} is nearer to test image {nearest} than to {pick}"
    expected_z = np.clip(codes[nearest], -r, r)
    try:
        explorer.status.filter(has_text=f"test image {nearest} ").wait_for(timeout=10_000)
    except sync_api.TimeoutError:
        raise AssertionError(f"{where}: clicking the pad did not jump to test image {nearest}; status: "
                             f"{explorer.status.all_inner_texts()}") from None
    shown, _, difference, changed = wait_for_picture(explorer, model, lambda: expected_z, not_equal_to=before)
    print(f"{where}: clicked the pad at z = ({target[0]:+.3f}, {target[1]:+.3f}) -> test image {nearest}, "
          f"z = ({expected_z[0]:+.3f}, {expected_z[1]:+.3f}); picture vs decoder: max difference {difference}/255")
    assert changed, f"{where}: clicking the pad left the picture unchanged"
    assert difference <= GREY_TOLERANCE, (f"{where}: after the pad click the picture differs from the decoded "
                                          f"encoding of test image {nearest} by {difference} grey levels")
    assert explorer.readouts() == pytest.approx(expected_z, abs=0.0051), f"{where}: the sliders did not follow the click"
    # The front end snaps the sliders to their 0.01 steps and sends the snapped values back; the
    # kernel must take that for no move (else z leaves the encoding and the status is cleared).
    page.wait_for_timeout(500)
    assert explorer.status.filter(has_text=f"test image {nearest} ").count() == 1, \
        f"{where}: the status no longer names test image {nearest}: {explorer.status.all_inner_texts()}"


def kernel_status(page, state: str):
    """The status bar's kernel item when it reads "<this test's kernelspec> | <state>"."""
    return page.locator(".jp-StatusBar-TextItem", has_text=f"{KERNEL_DISPLAY_NAME} | {state}")


def restart_kernel(page, lab):
    """Kernel menu -> Restart Kernel..., accept; wait for a new kernel process, idle."""
    old = lab.kernel_processes()
    assert old, "no kernel process is running before the restart"
    menu(page, "Kernel", "Restart Kernel")
    page.locator(".jp-Dialog .jp-mod-accept").click()
    deadline = time.monotonic() + 60
    while not ((new := lab.kernel_processes()) and new.isdisjoint(old)):
        assert time.monotonic() < deadline, f"the kernel was not restarted: processes {old} -> {new}"
        time.sleep(0.2)
    kernel_status(page, "Idle").wait_for(timeout=60_000)


def test_live_explorer_in_jupyterlab_follows_drags_and_clicks_and_survives_a_kernel_restart(lab, browser):
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    errors, refused = [], []
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))

    def route(request_route):  # only the server on loopback: CI is offline
        if request_route.request.url.startswith(lab.url):
            request_route.continue_()
        else:
            refused.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    started = time.monotonic()
    try:
        page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}?token={lab.token}&reset", wait_until="domcontentloaded")
        page.locator(".jp-Notebook .jp-Cell").nth(len(CELLS) - 1).wait_for(timeout=60_000)
        kernel_status(page, "Idle").wait_for(timeout=60_000)  # the kernel of sys.executable's kernelspec
        page.locator(".jp-Notebook").first.click()  # focus the notebook, so the Run menu acts on it
        menu(page, "Run", "Run All Cells")
        explorer = wait_for_explorer(page, "first run")
        print(f"explorer rendered {time.monotonic() - started:.1f} s after opening the notebook")
        assert not tracebacks(page), f"the notebook failed: {tracebacks(page)}"
        model = serialization.load(lab.model_dir)
        images = data.load("digits").test.x
        assert explorer.readouts() == [0.0, 0.0]
        first = explorer.picture()
        zoom = first.shape[1] // model.image_shape[1]
        assert np.abs(first - expected_picture(model, [0.0, 0.0], zoom)).max() <= GREY_TOLERANCE, \
            "the first picture is not the decoder's mean at z = 0"
        check_drag(page, explorer, model, "first run")
        check_pad_click(page, explorer, model, images, "first run")
        page.locator(".jp-Cell").last.screenshot(path=str(ARTIFACTS / "live_explorer_first_run.png"))

        restart_kernel(page, lab)
        page.wait_for_timeout(1000)  # time for a late error to reach the page
        page.screenshot(path=str(ARTIFACTS / "live_explorer_after_restart.png"), full_page=True)
        assert not tracebacks(page), f"a traceback appeared after the kernel restart: {tracebacks(page)}"

        # Mark the old outputs, so that only the new run's explorer is found.
        page.evaluate("() => document.querySelectorAll('.jp-OutputArea-output')"
                      ".forEach(el => el.setAttribute('data-tfvae-stale', ''))")
        menu(page, "Run", "Run All Cells")
        explorer = wait_for_explorer(page, "after restart")
        assert not tracebacks(page), f"the notebook failed after the kernel restart: {tracebacks(page)}"
        assert explorer.readouts() == [0.0, 0.0], "the re-run explorer does not start at z = 0"
        check_drag(page, explorer, model, "after restart")
        check_pad_click(page, explorer, model, images, "after restart")
        page.locator(".jp-Cell").last.screenshot(path=str(ARTIFACTS / "live_explorer_after_restart_run.png"))
        (ARTIFACTS / "live_explorer_refused_requests.json").write_text(json.dumps(refused, indent=1))
        assert not errors, f"JavaScript errors: {errors}"
        # The kernels' stderr goes to the server's log: no exception may have been printed there either.
        assert "Traceback" not in lab.log_tail(chars=10**7), f"a traceback in the server's log:\n{lab.log_tail()}"
        print(f"whole session in the browser: {time.monotonic() - started:.1f} s")
    except BaseException:
        page.screenshot(path=str(ARTIFACTS / "live_explorer_failure.png"), full_page=True)
        raise
    finally:
        page.close()
