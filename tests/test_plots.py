"""Specifications of the figure functions in tfvae.plots that Part I uses: they lay out what
they are given, put the latent grid the right way up, and reject inputs they cannot draw."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from tfvae import plots


def test_image_grid_has_one_axis_per_slot_and_shows_every_image():
    fig = plots.image_grid(np.zeros((7, 4, 4)), n_cols=3)
    assert len(fig.axes) == 9  # 3 rows of 3 slots for 7 images
    assert sum(len(ax.images) for ax in fig.axes) == 7


def test_image_functions_reject_arrays_that_are_not_image_stacks():
    with pytest.raises(ValueError, match=r"\(n, height, width\)"):
        plots.image_grid(np.zeros((4, 16)))
    with pytest.raises(ValueError, match=r"\(n, height, width\)"):
        plots.image_rows({"a": np.zeros((4, 16))})


def test_latent_scatter_draws_one_panel_per_model_and_rejects_non_2d_codes():
    labels = np.arange(10) % 3
    fig = plots.latent_scatter({"a": np.zeros((10, 2)), "b": np.ones((10, 2))}, labels)
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        plots.latent_scatter({"a": np.zeros((10, 3))}, labels)


def test_sample_clouds_draw_the_reference_behind_each_panel_and_reject_non_2d_samples():
    fig = plots.sample_clouds({"a": np.zeros((5, 2)), "b": np.ones((7, 2))}, np.full((3, 2), 2.0))
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    # Each panel: the reference's 3 points, then the panel's own.
    assert [[len(c.get_offsets()) for c in ax.collections] for ax in fig.axes] == [[3, 5], [3, 7]]
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        plots.sample_clouds({"a": np.zeros((5, 3))}, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="exact posterior"):
        plots.sample_clouds({"a": np.zeros((5, 2))}, np.zeros(3))


def test_decoded_manifold_asks_for_the_grid_and_puts_large_z2_at_the_top():
    asked = []

    def decode(z):
        asked.append(z)
        # A white image where z2 > 0, black elsewhere.
        return np.broadcast_to((z[:, 1] > 0)[:, None, None], (len(z), 2, 2)).astype(np.float32)

    fig = plots.decoded_manifold(decode, extent=(-1.0, 1.0, -2.0, 2.0), n=4)
    z = asked[0]
    assert z.shape == (16, 2)
    assert z[:, 0].min() == -1.0 and z[:, 0].max() == 1.0 and z[:, 1].min() == -2.0 and z[:, 1].max() == 2.0
    canvas = fig.axes[0].images[0].get_array()
    assert canvas.shape == (8, 8)
    assert canvas[:4].min() == 1.0 and canvas[4:].max() == 0.0  # top half white: the rows of positive z2


def test_training_curves_name_a_missing_history_key():
    with pytest.raises(KeyError, match="val_elbo"):
        plots.training_curves({"run": {"elbo": [1.0, 2.0]}}, keys=("elbo", "val_elbo"))


def test_lines_draws_each_series_and_reference_line():
    fig = plots.lines([1, 2, 3], {"a": [1, 2, 3], "b": [3, 2, 1]}, xlabel="x", ylabel="y", hlines={"ref": 2.0})
    assert len(fig.axes[0].lines) == 3



def test_bound_curves_draw_a_training_and_a_test_line_per_run_in_each_panel():
    run = ([100, 1000, 10000], [-200.0, -150.0, -120.0], [-201.0, -152.0, -123.0])
    fig = plots.bound_curves({"$N_z$ = 3": {"AEVB": run, "wake-sleep": run}, "$N_z$ = 10": {"AEVB": run}})
    assert [len(ax.lines) for ax in fig.axes] == [4, 2]
    assert fig.axes[0].get_xscale() == "log"
    assert [line.get_linestyle() for line in fig.axes[0].lines] == ["-", "--", "-", "--"]
    fig = plots.bound_curves({"$N_z$ = 3": {"AEVB": run}}, ylim=(-160.0, None))
    assert fig.axes[0].get_ylim()[0] == -160.0

def test_figures_come_back_closed_so_a_notebook_shows_each_once():
    import matplotlib.pyplot as plt

    plt.close("all")
    fig = plots.image_rows({"a": np.zeros((2, 3, 3))})
    assert plt.get_fignums() == []  # an open figure would be drawn again by the inline backend
    assert len(fig.axes) == 2
