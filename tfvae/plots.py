"""Figures for the book: every figure in a chapter is drawn by a function here.

Each function takes plain arrays (or a model and arrays), draws with matplotlib and
returns the `Figure`, so a notebook cell ending in the call shows it and a test can
inspect it. Nothing here computes a result the book asserts; the chapters compute,
these functions only draw.
"""

from __future__ import annotations

import math

import matplotlib

import matplotlib.pyplot as plt
import numpy as np

# Ten well separated colours for the ten classes of MNIST and Fashion-MNIST.
CLASS_COLOURS = plt.get_cmap("tab10")


def _detached(fig):
    """Close `fig` in pyplot and return it.

    A notebook then shows the figure once, as the cell's value; left open, Jupyter's
    inline backend would also draw it at the end of the cell, so it would appear twice.
    """
    plt.close(fig)
    return fig


def _finished(fig, ax, xlabel, ylabel, title=None):
    """Label a one-axes line figure, add a grid and a legend, and detach it (see `_detached`)."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return _detached(fig)


def _images(images) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n, height, width), got {images.shape}")
    return images


def image_grid(images, *, n_cols: int = 10, title: str | None = None, labels=None, scale: float = 0.9):
    """A grid of grey images, white on black as the data are stored.

    Args:
      images: (n, h, w) values in [0, 1].
      n_cols: images per row.
      labels: optional n strings shown under the images.
    """
    images = _images(images)
    n_rows = math.ceil(len(images) / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(scale * n_cols, scale * n_rows * (1.25 if labels is not None else 1)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i], cmap="gray", vmin=0.0, vmax=1.0)
            if labels is not None:
                ax.set_title(str(labels[i]), fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _detached(fig)


def image_rows(rows: dict, *, title: str | None = None, scale: float = 0.9):
    """Rows of images with a name at the left of each: e.g. originals, then two models' reconstructions.

    Args:
      rows: dict row name -> (n, h, w) images; every row shows the same number of images.
    """
    rows = {name: _images(images) for name, images in rows.items()}
    n_cols = max(len(images) for images in rows.values())
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(scale * n_cols + 1.2, scale * len(rows)), squeeze=False)
    for r, (name, images) in enumerate(rows.items()):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(images):
                ax.imshow(images[c], cmap="gray", vmin=0.0, vmax=1.0)
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _detached(fig)


def latent_scatter(panels: dict, labels, *, class_names=None, points: dict | None = None, size: float = 4.0):
    """Side-by-side scatter plots of 2-D codes, coloured by class.

    Args:
      panels: dict panel title -> codes (n, 2); all panels share `labels`.
      labels: (n,) integer classes.
      class_names: names for the legend, indexed by class.
      points: optional dict panel title -> (m, 2) extra points drawn as black crosses
        (for example the points a decoder is asked about).
    """
    labels = np.asarray(labels)
    fig, axes = plt.subplots(1, len(panels), figsize=(size * len(panels) + 1.5, size), squeeze=False)
    for ax, (name, codes) in zip(axes[0], panels.items()):
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.shape[1] != 2:
            raise ValueError(f"codes for {name!r} must have shape (n, 2), got {codes.shape}")
        ax.scatter(codes[:, 0], codes[:, 1], c=CLASS_COLOURS(labels % 10), s=3, alpha=0.6, linewidths=0)
        if points and name in points:
            extra = np.asarray(points[name])
            ax.scatter(extra[:, 0], extra[:, 1], marker="x", c="black", s=25, linewidths=1)
        ax.set_title(name)
        ax.set_xlabel("$z_1$")
        ax.set_ylabel("$z_2$")
    names = class_names if class_names is not None else [str(c) for c in range(int(labels.max()) + 1)]
    handles = [matplotlib.lines.Line2D([], [], marker="o", linestyle="", color=CLASS_COLOURS(c % 10), label=str(n))
               for c, n in enumerate(names)]
    fig.legend(handles=handles, loc="center right", fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1 - 1.4 / fig.get_figwidth(), 1))
    return _detached(fig)


def decoded_manifold(decode, *, extent=(-3.0, 3.0, -3.0, 3.0), n: int = 15, title: str | None = None, ax=None):
    """The images a decoder makes of an n x n grid of points in a 2-D latent space.

    Args:
      decode: z (m, 2) -> images (m, h, w) (for a model: `lambda z: model.decode(z).mean()`).
      extent: (z1_min, z1_max, z2_min, z2_max) of the grid.
    Returns:
      The figure; the grid's top row is the largest z2, as in a scatter plot.
    """
    x0, x1, y0, y1 = extent
    z1 = np.linspace(x0, x1, n, dtype=np.float32)
    z2 = np.linspace(y1, y0, n, dtype=np.float32)
    grid = np.stack(np.meshgrid(z1, z2), axis=-1).reshape(-1, 2)
    images = _images(np.asarray(decode(grid)))
    h, w = images.shape[1:]
    canvas = images.reshape(n, n, h, w).transpose(0, 2, 1, 3).reshape(n * h, n * w)
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 5))
    else:
        fig = ax.figure
    # This aspect ratio makes every decoded image square, whatever the ranges of z1 and z2.
    ax.imshow(canvas, cmap="gray", vmin=0.0, vmax=1.0, extent=(x0, x1, y0, y1), aspect=(x1 - x0) / (y1 - y0))
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return _detached(fig)


def decoded_manifolds(decoders: dict, extents: dict, *, n: int = 15, size: float = 4.5):
    """`decoded_manifold` for several models side by side (dict title -> decode, dict title -> extent)."""
    fig, axes = plt.subplots(1, len(decoders), figsize=(size * len(decoders), size), squeeze=False)
    for ax, (name, decode) in zip(axes[0], decoders.items()):
        decoded_manifold(decode, extent=extents[name], n=n, title=name, ax=ax)
    fig.tight_layout()
    return _detached(fig)


def lines(x, series: dict, *, xlabel: str, ylabel: str, log_x: bool = False, log_y: bool = False,
          title: str | None = None, hlines: dict | None = None, markers: bool = True):
    """Several curves over a shared x axis (for example a quantity against the number of samples).

    Args:
      x: (n,) positions.
      series: dict curve name -> (n,) values.
      hlines: optional dict name -> y value drawn as a dashed horizontal line (a reference value).
    """
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in series.items():
        ax.plot(x, values, marker="o" if markers else None, markersize=3, label=name)
    for name, value in (hlines or {}).items():
        ax.axhline(value, linestyle="--", color="black", linewidth=1, label=name)
    ax.set_xscale("log" if log_x else "linear")
    ax.set_yscale("log" if log_y else "linear")
    return _finished(fig, ax, xlabel, ylabel, title)


def training_curves(histories: dict, *, keys=("elbo", "val_elbo"), ylabel: str = "ELBO per image (nats)",
                    title: str | None = None, skip_first: int = 0):
    """Per-epoch training curves from `tfvae.training.fit` histories.

    Args:
      histories: dict run name -> history (dict of per-epoch lists).
      keys: which history entries to draw ("elbo" is the training ELBO, "val_elbo" the validation one).
      skip_first: leave out the first epochs, whose values dwarf the rest.
    """
    fig, ax = plt.subplots(figsize=(6, 4))
    for run, history in histories.items():
        for key in keys:
            if key not in history:
                raise KeyError(f"history of {run!r} has no {key!r}; it has {', '.join(sorted(history))}")
            values = np.asarray(history[key])[skip_first:]
            epochs = np.arange(skip_first + 1, skip_first + 1 + len(values))
            style = "--" if key.startswith("val_") else "-"
            name = ("validation " + key[4:]) if key.startswith("val_") else ("training " + key)
            ax.plot(epochs, values, style, marker="o", markersize=3, label=f"{run}: {name}" if len(histories) > 1 else name)
    return _finished(fig, ax, "epoch", ylabel, title)


def histograms(samples: dict, *, xlabel: str, bins: int = 40, title: str | None = None, log_y: bool = False):
    """Overlaid histograms (densities) of several samples, dict name -> (n,) values, on shared bins."""
    arrays = {name: np.asarray(values, dtype=np.float64).ravel() for name, values in samples.items()}
    everything = np.concatenate(list(arrays.values()))
    edges = np.histogram_bin_edges(everything[np.isfinite(everything)], bins=bins)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in arrays.items():
        ax.hist(values, bins=edges, density=True, histtype="stepfilled", alpha=0.4, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    if log_y:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return _detached(fig)


def bound_curves(curves: dict, *, ylabel: str = "ELBO per image (nats)", ylim: tuple | None = None, size: float = 3.2):
    """Training and test bounds against training samples seen, one panel per latent size (Kingma & Welling's Figure 2).

    Args:
      curves: dict panel title -> dict run label (for example "AEVB", "wake-sleep") ->
        (samples (n,), train bound (n,), test bound (n,)).
      ylim: (bottom, top) of the shared y axis, either None for matplotlib's choice; the first
        steps' bounds lie far below the rest and would flatten every later difference.
    Returns:
      The figure; each run has its colour, training bounds are solid and test bounds dashed,
      the x axis is logarithmic and every panel shares the y axis.
    """
    fig, axes = plt.subplots(1, len(curves), figsize=(size * len(curves), size + 0.4), sharey=True, squeeze=False)
    for ax, (title, runs) in zip(axes[0], curves.items()):
        for i, (label, (samples, train, test)) in enumerate(runs.items()):
            ax.plot(samples, train, "-", color=f"C{i}", label=f"{label}, training")
            ax.plot(samples, test, "--", color=f"C{i}", label=f"{label}, test")
        ax.set_xscale("log")
        ax.set_title(title)
        ax.set_xlabel("training samples seen")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel(ylabel)
    if ylim is not None:
        axes[0, 0].set_ylim(*ylim)
    axes[0, 0].legend(fontsize="small")
    fig.tight_layout()
    return _detached(fig)


def quantile_manifold(decode, *, n: int = 20, title: str | None = None):
    """A 2-D latent space decoded on a grid of Gaussian quantiles (Kingma & Welling's Figure 4).

    The unit square's grid points u (n x n, away from 0 and 1) are mapped through the
    inverse CDF of N(0, 1), z = Phi^{-1}(u), so equal steps in the picture are equal
    amounts of prior probability.

    Args:
      decode: z (m, 2) -> images (m, h, w).
    """
    from scipy.stats import norm

    edge = 0.5 / n  # grid points at the centres of n equal-probability cells
    fig = decoded_manifold(lambda u: decode(norm.ppf(u).astype(np.float32)), extent=(edge, 1 - edge, edge, 1 - edge),
                           n=n, title=title)
    fig.axes[0].set_xlabel(r"$\Phi(z_1)$")
    fig.axes[0].set_ylabel(r"$\Phi(z_2)$")
    return _detached(fig)


def kl_per_dimension_bars(kl: dict, *, activity: dict | None = None, threshold: float = 0.01, size=(8, 1.9)):
    """Bar plots of the average KL of each latent dimension, one row per run, dimensions sorted by KL.

    Args:
      kl: dict run name -> (d,) nats per dimension.
      activity: optional dict run name -> (d,) unit activities; inactive units (activity
        <= `threshold`) are drawn grey.
    """
    fig, axes = plt.subplots(len(kl), 1, figsize=(size[0], size[1] * len(kl)), sharex=True, squeeze=False)
    for ax, (name, values) in zip(axes[:, 0], kl.items()):
        values = np.asarray(values, dtype=np.float64)
        order = np.argsort(-values)
        colours = ["C0"] * len(values)
        if activity is not None:
            active = np.asarray(activity[name]) > threshold
            colours = ["C0" if active[j] else "0.6" for j in order]
        ax.bar(np.arange(len(values)), values[order], color=colours)
        ax.set_ylabel("KL (nats)")
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3, axis="y")
    axes[-1, 0].set_xlabel("latent dimension, sorted by KL" + (" (grey: inactive)" if activity is not None else ""))
    fig.tight_layout()
    return _detached(fig)


def rate_distortion(rates, distortions, labels, *, title: str | None = None):
    """Distortion against rate, one labelled point per model (e.g. per beta), joined in order.

    Args:
      rates: (n,) KL(q(z|x) || p(z)) averages in nats; distortions: (n,) -E[log p(x|z)] in nats;
      labels: n strings written next to the points.
    """
    rates, distortions = np.asarray(rates, float), np.asarray(distortions, float)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.plot(rates, distortions, "-o", markersize=4)
    for r, d, label in zip(rates, distortions, labels):
        ax.annotate(str(label), (r, d), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set_xlabel("rate: KL(q(z|x) || p(z)) (nats)")
    ax.set_ylabel("distortion: -E log p(x|z) (nats)")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _detached(fig)


def latent_traversals(decode, z0, dims, values, *, row_labels=None, scale: float = 0.8, title: str | None = None):
    """One row per latent dimension: decode z0 with that coordinate set to each of `values`.

    Args:
      decode: z (n, d) -> images (n, h, w), e.g. `lambda z: model.decode(z).mean()`.
      z0: (d,) the code every row starts from; dims: the dimensions to traverse (one row each);
      values: (m,) the values given to the traversed coordinate.
    """
    z0, values = np.asarray(z0, np.float32), np.asarray(values, np.float32)
    rows = {}
    for i, dim in enumerate(dims):
        z = np.repeat(z0[None], len(values), axis=0)
        z[:, dim] = values
        name = row_labels[i] if row_labels is not None else f"z[{dim}]"
        rows[name] = np.asarray(decode(z))
    return image_rows(rows, title=title, scale=scale)


def sequences(panels: dict, *, n: int = 4, xlabel: str = "time step t", ylabel: str = "x_t", size: float = 3.2):
    """Side-by-side panels of a few one-dimensional sequences each (e.g. data and model samples).

    Args:
      panels: dict panel title -> array (m, T) or (m, T, 1); the first `n` sequences are drawn.
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(size * 1.4 * len(panels), size), sharey=True, squeeze=False)
    for ax, (name, values) in zip(axes[0], panels.items()):
        values = np.asarray(values, float).reshape(len(values), -1)
        for i, series in enumerate(values[:n]):
            ax.plot(series, color=CLASS_COLOURS(i), linewidth=1.2)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel(ylabel)
    fig.tight_layout()
    return _detached(fig)


def sample_clouds(panels: dict, reference, *, reference_label: str = "exact posterior", size: float = 3.2,
                  title: str | None = None):
    """Side-by-side scatter plots of 2-D samples, each over the same reference sample in grey.

    Args:
      panels: dict panel title -> samples (n, 2), for example draws from fitted posteriors.
      reference: (m, 2) samples drawn in every panel behind the panel's own (for example the exact posterior's).
    """
    reference = np.asarray(reference)
    arrays = {name: np.asarray(samples) for name, samples in panels.items()}
    for name, samples in {reference_label: reference, **arrays}.items():
        if samples.ndim != 2 or samples.shape[1] != 2:
            raise ValueError(f"samples for {name!r} must have shape (n, 2), got {samples.shape}")
    fig, axes = plt.subplots(1, len(arrays), figsize=(size * len(arrays), size), squeeze=False, sharex=True, sharey=True)
    for ax, (name, samples) in zip(axes[0], arrays.items()):
        ax.scatter(reference[:, 0], reference[:, 1], s=3, color="0.7", alpha=0.5, linewidths=0, label=reference_label)
        ax.scatter(samples[:, 0], samples[:, 1], s=3, color=CLASS_COLOURS(0), alpha=0.5, linewidths=0, label="q")
        ax.set_title(name)
        ax.set_xlabel("$z_1$")
        ax.set_ylabel("$z_2$")
    axes[0][0].legend(loc="upper left", fontsize=8, markerscale=3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _detached(fig)
