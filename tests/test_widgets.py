"""The live explorer (ipywidgets): widgets are built without a front end, so the tests drive
them as a front end would, by setting values and clicking buttons."""

import io
import sys

import numpy as np
import pytest
from PIL import Image

from tfvae import data, explore, models


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


@pytest.fixture(scope="module")
def model():
    return models.build(image_shape=(8, 8), latent_dim=5, hidden_units=32, seed=0)


def build(model, **kwargs):
    # pytest runs outside a kernel: the explorer must warn that nothing can show it here.
    with pytest.warns(UserWarning, match="no widget front end"):
        return explore.latent_explorer(model, **kwargs)


def shown_image(explorer) -> np.ndarray:
    """The grey levels the image widget shows, at the model's resolution."""
    picture = np.asarray(Image.open(io.BytesIO(explorer.image.value)))
    return picture[::explorer._zoom, ::explorer._zoom].astype(int)


def expected_grey_levels(model, z) -> np.ndarray:
    mean = model.decode(np.asarray(z, np.float32)[None]).mean().numpy()[0]
    return np.rint(255 * np.clip(mean, 0, 1)).astype(int)


def test_moving_a_slider_redraws_the_image_with_the_decoder_output(model):
    explorer = build(model)
    before = explorer.image.value
    explorer.sliders[2].value = 1.25
    assert explorer.image.value != before
    assert explorer.z[2] == 1.25
    # The widget decodes in a tf.function, the test eagerly: float32 differences (~1e-7)
    # can flip a rounding to the next grey level, never more.
    assert np.abs(shown_image(explorer) - expected_grey_levels(model, explorer.z)).max() <= 1


def test_selector_makes_a_slider_drive_another_coordinate(model):
    explorer = build(model, max_sliders=2)
    assert len(explorer.sliders) == 2 and len(explorer.selectors) == 2
    explorer.selectors[1].value = 4
    explorer.sliders[1].value = -2.0
    assert explorer.z.tolist() == [0.0, 0.0, 0.0, 0.0, -2.0]
    assert np.abs(shown_image(explorer) - expected_grey_levels(model, explorer.z)).max() <= 1


def test_start_from_test_image_moves_to_its_encoding(model, digits):
    images, labels = digits.test.x[:40], digits.test.y[:40]
    explorer = build(model, images=images, labels=labels)
    explorer.image_index.value = 7
    explorer.start_button.click()
    np.testing.assert_allclose(explorer.z, model.encode(images[7:8]).mean().numpy()[0], atol=1e-6)
    assert f"label {labels[7]}" in explorer.status.value
    assert [s.value for s in explorer.sliders] == pytest.approx(explorer.z.tolist())


def test_clicking_the_pad_decodes_the_nearest_encoded_image(model, digits):
    images = digits.test.x[:40]
    explorer = build(model, images=images)
    codes = model.encode(images).mean().numpy()
    target = codes[11]
    # Pixel position of code 11's first two coordinates on the pad (axes fill the picture).
    size, r = explorer.PAD_PIXELS, explorer.range
    x, y = (target[0] / r + 1) / 2 * size, (1 - target[1] / r) / 2 * size
    explorer.pad_click(x, y)
    nearest = np.argmin(np.sum((codes[:, :2] - target[:2]) ** 2, axis=1))
    np.testing.assert_allclose(explorer.z, codes[nearest], atol=1e-6)


def test_pad_marks_the_current_point(model, digits):
    explorer = build(model, images=digits.test.x[:20])
    red = np.array([214, 39, 40])
    def red_pixels():
        picture = np.asarray(Image.open(io.BytesIO(explorer.pad.value)))[..., :3]
        return np.argwhere(np.all(picture == red, axis=-1))
    centre_before = red_pixels().mean(axis=0)
    explorer.sliders[0].value = 2.0  # move right by 2/3 of the half-width
    centre_after = red_pixels().mean(axis=0)
    assert centre_after[1] - centre_before[1] == pytest.approx(2.0 / explorer.range / 2 * (explorer.PAD_PIXELS - 1), abs=1)


def test_random_and_reset_buttons(model):
    explorer = build(model)
    explorer.random_button.click()
    assert np.any(explorer.z != 0)
    explorer.reset_button.click()
    assert np.all(explorer.z == 0)
    assert np.abs(shown_image(explorer) - expected_grey_levels(model, np.zeros(5))).max() <= 1


def test_any_decoder_architecture_works_live():
    conv = models.build(image_shape=(8, 8), latent_dim=3, architecture="conv")
    explorer = build(conv)
    explorer.sliders[0].value = 1.0
    assert np.abs(shown_image(explorer) - expected_grey_levels(conv, explorer.z)).max() <= 1


def test_without_a_front_end_it_says_what_to_do_instead(model, capsys):
    explorer = build(model)
    assert explore.has_widget_front_end() is False
    explorer._ipython_display_()
    printed = capsys.readouterr().out
    assert "no widget front end" in printed and "static_explorer" in printed


def test_missing_ipywidgets_gives_a_clear_error(model, monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # makes `import ipywidgets` fail
    with pytest.raises(explore.WidgetsUnavailableError, match="ipywidgets is not installed.*static_explorer"):
        explore.latent_explorer(model)


def test_z_of_the_wrong_size_is_rejected(model):
    explorer = build(model)
    with pytest.raises(ValueError, match=r"z has shape \(3,\); expected \(5,\)"):
        explorer.set_z([0.0, 1.0, 2.0])


def test_labels_may_be_class_names(model, digits):
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    explorer = build(model, images=digits.test.x[:30], labels=names[digits.test.y[:30]])
    explorer.start_from(3)
    assert f"label {names[digits.test.y[3]]}" in explorer.status.value


def test_a_click_message_from_ipyevents_jumps_to_the_nearest_encoded_image(model, digits):
    # The message ipyevents 2 sends for a click (see its _supplement_mouse_positions): offsets in the
    # pad's bounding rectangle, rounded, and the rectangle's size as displayed (here 1.5x the PNG's).
    pytest.importorskip("ipyevents")
    images = digits.test.x[:40]
    explorer = build(model, images=images)
    codes = model.encode(images).mean().numpy()
    shown = 1.5 * explorer.PAD_PIXELS
    x, y = (codes[5, 0] / explorer.range + 1) / 2 * shown, (1 - codes[5, 1] / explorer.range) / 2 * shown
    explorer._pad_events._handle_mouse_msg(None, {
        "event": "click", "type": "click", "relativeX": round(x), "relativeY": round(y),
        "boundingRectWidth": shown, "boundingRectHeight": shown}, [])
    target = np.array([(round(x) / shown * 2 - 1) * explorer.range, (1 - round(y) / shown * 2) * explorer.range])
    nearest = np.argmin(np.sum((codes[:, :2] - target) ** 2, axis=1))
    np.testing.assert_allclose(explorer.z, codes[nearest], atol=1e-6)
    assert explorer.image_index.value == nearest and explorer.status.value.endswith(f"test image {nearest}")


def test_one_slider_with_images_still_gets_a_pad(model, digits):
    # The pad spans the slider's coordinate and the next one (it used to need two sliders).
    images = digits.test.x[:30]
    explorer = build(model, images=images, max_sliders=1)
    assert explorer.pad is not None and explorer._pad_axes() == (0, 1)
    explorer.selectors[0].value = 4
    assert explorer._pad_axes() == (4, 0)
    explorer.pad_click(explorer.PAD_PIXELS / 2, explorer.PAD_PIXELS / 2)
    codes = model.encode(images).mean().numpy()
    nearest = np.argmin(np.sum(codes[:, [4, 0]] ** 2, axis=1))
    np.testing.assert_allclose(explorer.z, codes[nearest], atol=1e-6)


def test_moving_a_slider_clears_the_status_naming_a_test_image(model, digits):
    explorer = build(model, images=digits.test.x[:20])
    explorer.start_from(3)
    assert "test image 3" in explorer.status.value
    explorer.sliders[0].value = explorer.sliders[0].value + 0.5
    assert explorer.status.value == ""


@pytest.mark.parametrize("latent_range", [0, -1.0, float("nan"), "3"])
def test_a_bad_latent_range_is_rejected(model, latent_range):
    with pytest.raises(ValueError, match="latent_range must be a finite number > 0"):
        explore.latent_explorer(model, latent_range=latent_range)


def test_the_picture_is_the_png_of_mean_image_png(model):
    explorer = build(model)
    explorer.sliders[1].value = -0.75
    assert explorer.image.value == explore.live.mean_image_png(explorer.pixels, explorer._zoom)
    picture = np.asarray(Image.open(io.BytesIO(explorer.image.value)))
    assert picture.shape == (8 * explorer._zoom, 8 * explorer._zoom) and picture.dtype == np.uint8


def test_the_front_ends_snapped_echo_of_a_jump_keeps_the_exact_encoding(model, digits):
    # A jump (start from a test image, a pad click, a prior draw) sets the sliders to values off
    # their 0.01 grid. ipywidgets' front end snaps each to the grid (noUiSlider) and sends the
    # snapped value back; that echo must not move z off the encoding, clear the status or redraw.
    images, labels = digits.test.x[:40], digits.test.y[:40]
    explorer = build(model, images=images, labels=labels)
    explorer.start_from(7)
    z, picture, status = explorer.z.copy(), explorer.image.value, explorer.status.value
    assert any(s.value != round(s.value, 2) for s in explorer.sliders)  # off the grid, so the echoes differ
    for slider in explorer.sliders:
        slider.value = slider.min + round((slider.value - slider.min) / slider.step) * slider.step
    assert np.array_equal(explorer.z, z) and explorer.image.value == picture and explorer.status.value == status
    # A real move, by one step from the shown value, still moves z and redraws.
    explorer.sliders[0].value = explorer.sliders[0].value + 0.01
    assert explorer.z[0] == pytest.approx(round(z[0], 2) + 0.01) and explorer.image.value != picture
    assert explorer.status.value == ""
