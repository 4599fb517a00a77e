"""Class colours, legend, class maps, overlays and epoch axes shared by the lessons (unet_lib.display)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from unet_lib import CLASS_NAMES  # noqa: E402
from unet_lib.display import (  # noqa: E402
    CLASS_RGB,
    class_map_legend,
    integer_epochs,
    overlay_classes,
    show_class_map,
)


def test_one_distinct_colour_per_class():
    assert CLASS_RGB.shape == (len(CLASS_NAMES), 3)
    distances = np.linalg.norm(CLASS_RGB[:, None] - CLASS_RGB[None], axis=-1)
    assert distances[~np.eye(len(CLASS_NAMES), dtype=bool)].min() > 0.4


@pytest.mark.parametrize("on_figure", [False, True])
def test_legend_names_every_class_in_order(on_figure):
    figure, axis = plt.subplots()
    legend = class_map_legend(figure if on_figure else axis)
    assert [text.get_text() for text in legend.get_texts()] == list(CLASS_NAMES)
    np.testing.assert_allclose([patch.get_facecolor()[:3] for patch in legend.get_patches()], CLASS_RGB)
    plt.close(figure)


def test_an_overlays_legend_shows_background_as_the_greyed_photo_it_is():
    figure, axis = plt.subplots()
    legend = class_map_legend(axis, overlay=True)
    texts = [text.get_text() for text in legend.get_texts()]
    assert texts[0] == f"{CLASS_NAMES[0]} (the photo, in grey)" and texts[1:] == list(CLASS_NAMES[1:])
    background = legend.get_patches()[0]
    assert background.get_hatch() and background.get_facecolor()[:3] != tuple(CLASS_RGB[0])  # texture, not a box
    plt.close(figure)


def test_class_map_uses_the_class_colours():
    figure, axis = plt.subplots()
    mask = np.array([[0, 1], [2, 0]])
    picture = show_class_map(axis, mask, title="truth")
    np.testing.assert_allclose(picture.to_rgba(mask)[..., :3], CLASS_RGB[mask], atol=1e-6)
    assert axis.get_title() == "truth"
    with pytest.raises(ValueError, match=r"mask labels must lie in \[0, 3\)"):
        show_class_map(axis, np.array([[0, 3]]))
    plt.close(figure)


def test_overlay_keeps_background_as_grey_and_paints_shapes_in_their_class_colour():
    image = np.random.default_rng(0).random((4, 5, 3), dtype=np.float32)
    mask = np.zeros((4, 5), dtype=np.int32)
    mask[1, 1], mask[2, 3] = 1, 2
    blended = overlay_classes(image, mask, alpha=0.75)
    assert blended.shape == image.shape and blended.dtype == np.float32
    grey = image @ np.array([0.299, 0.587, 0.114])
    background = mask == 0
    np.testing.assert_allclose(blended[background], np.repeat(grey[background][:, None], 3, axis=1), atol=1e-6)
    for row, column in ((1, 1), (2, 3)):
        nearest_class = np.linalg.norm(CLASS_RGB - blended[row, column], axis=-1).argmin()
        assert nearest_class == mask[row, column]
    with pytest.raises(ValueError, match="image must be"):
        overlay_classes(image[:3], mask)


def test_epoch_axis_is_ticked_in_whole_epochs():
    figure, axis = plt.subplots()
    axis.plot([1, 2, 3], [0.5, 0.4, 0.3])
    integer_epochs(axis)
    figure.canvas.draw()
    ticks = [tick for tick in axis.get_xticks() if 1 <= tick <= 3]
    assert ticks and all(float(tick).is_integer() for tick in ticks)
    assert axis.get_xlabel() == "epoch"
    plt.close(figure)
