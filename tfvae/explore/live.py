"""The live latent explorer: z -> E[x|z] under ipywidgets sliders, decoded by TensorFlow in a kernel.

`latent_explorer(model)` works with any decoder (Jupyter, Colab, VS Code). It shows one
slider per latent coordinate (or the first few, each with a selector of the coordinate it
drives), "random from prior" and "reset" buttons, encoded test images as starting points
and, for latent_dim >= 2, a clickable scatter of the encodings over two coordinates.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import tensorflow as tf

from tfvae import checks
from tfvae.errors import InvalidInputError, TfvaeError
from tfvae.explore.anchors import check_latent_range

NO_FRONT_END = ("no widget front end: run this in Jupyter/Colab, or use tfvae.explore.static_explorer(model), "
                "which works in any browser")


class WidgetsUnavailableError(TfvaeError, ImportError):
    """ipywidgets is not installed, so the live explorer cannot be built."""


def latent_explorer(model, images=None, labels=None, max_sliders: int = 8, *, latent_range: float = 3.0):
    """An ipywidgets latent explorer for a live kernel: sliders over z, E[x|z] decoded by TensorFlow.

    Args:
      model: any tfvae model (any decoder architecture).
      images: optional test images (n, h, w); their encodings become starting points and,
        when latent_dim >= 2, a clickable scatter (a "pad") over two coordinates.
      labels: optional (n,) labels, shown with the images and colouring the scatter.
      max_sliders: sliders shown; with more latent coordinates, each slider gets a selector
        of the coordinate it drives.
      latent_range: the sliders span [-latent_range, latent_range].

    Returns:
      a `LatentExplorer`; displaying it (last line of a cell) shows the widgets. Outside a
      kernel with a widget front end it says what to do instead.

    Raises:
      WidgetsUnavailableError if ipywidgets is not installed (the message names the alternative).
    """
    try:
        import ipywidgets
    except ImportError:
        raise WidgetsUnavailableError(f"ipywidgets is not installed ({NO_FRONT_END}; "
                                      "or pip install ipywidgets)") from None
    check_latent_range(latent_range)
    explorer = LatentExplorer(ipywidgets, model, images, labels, checks.positive_int(max_sliders, "max_sliders"),
                              latent_range)
    if not has_widget_front_end():
        warnings.warn(NO_FRONT_END, stacklevel=2)
    return explorer


def has_widget_front_end() -> bool:
    """True inside a Jupyter kernel (Jupyter, Colab, VS Code), where widgets can be shown."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class LatentExplorer:
    """The live explorer's state and widgets (`.widget`); built by `latent_explorer`.

    `z` is the current latent point (d,), `pixels` the decoded mean image (h, w); moving a
    slider, a button or a click on the pad changes `z` and redraws `image` in place.
    """

    PAD_PIXELS = 210

    def __init__(self, ipywidgets, model, images, labels, max_sliders, latent_range):
        self.model = model
        d = self.latent_dim = int(model.latent_dim)
        self.range = float(latent_range)
        self.z = np.zeros(d)
        self._decode = tf.function(lambda z: model.decode(z).mean(),
                                   input_signature=[tf.TensorSpec([None, d], tf.float32)])
        self._syncing = False
        w = ipywidgets
        h_px, w_px = model.image_shape
        self._zoom = max(1, 168 // max(h_px, w_px))
        self.image = w.Image(format="png", width=w_px * self._zoom, height=h_px * self._zoom)
        count = min(d, max_sliders)
        self.drives = list(range(count))
        self.sliders = [w.FloatSlider(value=0.0, min=-self.range, max=self.range, step=0.01,
                                      description=f"z{k + 1}", continuous_update=True, readout_format=".2f")
                        for k in range(count)]
        self.selectors = []
        rows = []
        for i, slider in enumerate(self.sliders):
            slider.observe(lambda change, i=i: self._slider_moved(i, change["new"]), names="value")
            if count < d:
                selector = w.Dropdown(options=[(f"z{k + 1}", k) for k in range(d)], value=i,
                                      layout=w.Layout(width="80px"))
                selector.observe(lambda change, i=i: self._retarget(i, change["new"]), names="value")
                self.selectors.append(selector)
                slider.description = ""
                rows.append(w.HBox([selector, slider]))
            else:
                rows.append(slider)
        prior = getattr(model, "prior", None)
        self.random_button = w.Button(description="random from prior" if prior is not None else "random z ~ N(0, I)")
        self.random_button.on_click(lambda _: self.random())
        self.reset_button = w.Button(description="reset (z = 0)")
        self.reset_button.on_click(lambda _: self.set_z(np.zeros(d)))
        controls = [self.random_button, self.reset_button]
        self.note = w.HTML()
        self.status = w.HTML()
        self.codes = self.labels = None
        self.pad = None
        if images is not None:
            images = checks.images(images, "images", image_shape=model.image_shape)
            self.codes = model.encode(images).mean().numpy().astype(np.float64)
            self.labels = None if labels is None else np.asarray(labels)
            self.image_index = w.BoundedIntText(value=0, min=0, max=len(images) - 1, description="test image",
                                                layout=w.Layout(width="180px"))
            self.start_button = w.Button(description="start from test image")
            self.start_button.on_click(lambda _: self.start_from(self.image_index.value))
            controls += [self.image_index, self.start_button]
            if d >= 2:
                self.pad = w.Image(format="png", width=self.PAD_PIXELS, height=self.PAD_PIXELS)
                self._pad_backgrounds = {}
                self.note.value = self._connect_pad_clicks(w)
        top = [self.image] + ([self.pad] if self.pad is not None else []) + [w.VBox(controls)]
        self.widget = w.VBox([w.HBox(top), self.status, w.VBox(rows), self.note])
        self._redraw()

    # --- actions ---------------------------------------------------------------------------
    def set_z(self, z):
        """Move to latent point z (d,), clipped to the sliders' range, and redraw."""
        self.status.value = ""
        z = np.asarray(z, np.float64)
        if z.shape != (self.latent_dim,):
            raise InvalidInputError(f"z has shape {z.shape}; expected ({self.latent_dim},)")
        self.z = np.clip(z, -self.range, self.range)
        self._redraw()

    def random(self, seed=None):
        """A draw from the model's prior (N(0, I) for an autoencoder, which has none)."""
        prior = getattr(self.model, "prior", None)
        if prior is None:
            self.set_z(np.random.default_rng(seed).standard_normal(self.latent_dim))
        else:
            self.set_z(prior.sample(seed=seed).numpy())

    def start_from(self, index: int):
        """Move to the encoding (mean of q(z|x)) of test image `index`."""
        self.set_z(self.codes[int(index)])
        label = "" if self.labels is None else f" (label {self.labels[int(index)]})"
        self.status.value = f"z = encoding of test image {int(index)}{label}"

    def pad_click(self, x_pixels: float, y_pixels: float, width: float | None = None, height: float | None = None):
        """Click on the pad at (x, y) in displayed pixels: jump to the nearest encoded test image."""
        width = width or self.PAD_PIXELS
        height = height or self.PAD_PIXELS
        a, b = self._pad_axes()
        target = np.array([(x_pixels / width * 2 - 1) * self.range, (1 - y_pixels / height * 2) * self.range])
        nearest = int(np.argmin(np.sum((self.codes[:, [a, b]] - target) ** 2, axis=1)))
        self.image_index.value = nearest
        self.start_from(nearest)

    # --- drawing ---------------------------------------------------------------------------
    @property
    def pixels(self) -> np.ndarray:
        """E[x|z] at the current z. Shape (h, w)."""
        return self._pixels

    def _slider_moved(self, i, value):
        if self._syncing:
            return
        k = self.drives[i]
        if value == self.z[k] or abs(value - _on_step(self.sliders[i], self.z[k])) < 1e-9:
            # ipywidgets' front end snaps a value set here (an encoding, a prior draw) to the
            # slider's step and sends the snapped value back. That is no move: z keeps the exact
            # point (and the status naming it), and there is nothing to redraw.
            return
        self.status.value = ""  # z is no longer the encoding the status may name
        self.z[k] = value
        self._redraw()

    def _retarget(self, i, coordinate):
        self.drives[i] = coordinate
        self._redraw()

    def _redraw(self):
        self._syncing = True
        try:
            for slider, k in zip(self.sliders, self.drives):
                slider.value = float(self.z[k])
        finally:
            self._syncing = False
        self._pixels = self._decode(self.z[None].astype(np.float32)).numpy()[0]
        self.image.value = mean_image_png(self._pixels, self._zoom)
        if self.pad is not None:
            self.pad.value = _png(self._pad_picture())

    def _pad_axes(self) -> tuple[int, int]:
        """The pad's coordinates: those the first two sliders drive (with one slider: its coordinate and the next)."""
        a = self.drives[0]
        return a, self.drives[1] if len(self.drives) > 1 else (a + 1) % self.latent_dim

    def _pad_picture(self):
        """The scatter of encoded test images over the pad's two coordinates, with a cross at z."""
        a, b = self._pad_axes()
        if (a, b) not in self._pad_backgrounds:
            self._pad_backgrounds[(a, b)] = _scatter_picture(self.codes[:, [a, b]], self.labels, self.range,
                                                             self.PAD_PIXELS, f"z{a + 1}", f"z{b + 1}")
        picture = self._pad_backgrounds[(a, b)].copy()
        n = self.PAD_PIXELS
        col = int(round((self.z[a] / self.range + 1) / 2 * (n - 1)))
        row = int(round((1 - self.z[b] / self.range) / 2 * (n - 1)))
        picture[max(row - 6, 0):row + 7, max(col - 1, 0):col + 2] = (214, 39, 40)
        picture[max(row - 1, 0):row + 2, max(col - 6, 0):col + 7] = (214, 39, 40)
        return picture

    def _connect_pad_clicks(self, ipywidgets) -> str:
        try:
            from ipyevents import Event
        except ImportError:
            return ("The scatter shows the encoded test images; ipyevents is not installed, so it is not "
                    "clickable: the red cross follows the first two sliders, and 'start from test image' "
                    "jumps to an encoding (pip install ipyevents for click-to-decode).")
        self._pad_events = Event(source=self.pad, watched_events=["click"])
        self._pad_events.on_dom_event(lambda event: self.pad_click(
            event["relativeX"], event["relativeY"], event.get("boundingRectWidth"), event.get("boundingRectHeight")))
        return "Click the scatter to decode the nearest encoded test image."

    # --- display ---------------------------------------------------------------------------
    def _ipython_display_(self):
        from IPython.display import display
        if has_widget_front_end():
            display(self.widget)
        else:
            print(repr(self))

    def __repr__(self):
        return f"LatentExplorer(latent_dim={self.latent_dim}): {NO_FRONT_END}"


def _on_step(slider, value: float) -> float:
    """The value a front end's slider shows for `value`: the nearest of min + n * step (as noUiSlider snaps)."""
    return slider.min + round((value - slider.min) / slider.step) * slider.step


def mean_image_png(means, zoom: int) -> bytes:
    """The live explorer's picture of E[x|z]: PNG bytes of the grey levels rint(255 * clip(means, 0, 1)),
    each pixel drawn as a zoom x zoom block. Shapes: means (h, w) -> a (h * zoom, w * zoom) greyscale PNG."""
    grey = np.rint(255 * np.clip(np.asarray(means), 0, 1)).astype(np.uint8)
    return _png(np.repeat(np.repeat(grey, zoom, axis=0), zoom, axis=1))


def _png(array) -> bytes:
    from PIL import Image
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _scatter_picture(points, labels, latent_range, size, x_name, y_name) -> np.ndarray:
    """A size x size RGB scatter whose axes fill the picture: pixel (0, 0) is z = (-r, r)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(size / 100, size / 100), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes([0, 0, 1, 1])
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=4, c="tab:blue", alpha=0.7, linewidths=0)
    else:  # labels may be class names: colour by their index among the distinct labels
        codes = np.unique(np.asarray(labels), return_inverse=True)[1]
        ax.scatter(points[:, 0], points[:, 1], s=4, c=codes % 10, cmap="tab10", vmin=0, vmax=9,
                   alpha=0.7, linewidths=0)
    ax.set_xlim(-latent_range, latent_range)
    ax.set_ylim(-latent_range, latent_range)
    ax.axhline(0, color="0.85", lw=0.8, zorder=0)
    ax.axvline(0, color="0.85", lw=0.8, zorder=0)
    ax.text(0.98, 0.52, x_name, transform=ax.transAxes, ha="right", fontsize=8, color="0.4")
    ax.text(0.52, 0.97, y_name, transform=ax.transAxes, va="top", fontsize=8, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
