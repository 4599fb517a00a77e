"""The explorer's plain functions and its widget, without a browser."""

import matplotlib
import numpy as np
import pytest

from unet_lib import draw_grids, draw_transpose_layout, keras_output_shape, transpose_explorer, transpose_layout

matplotlib.use("Agg")


def test_layout_of_the_worked_example():
    layout = transpose_layout(2, 3, stride=2, padding=1, output_padding=1)
    assert (layout.full_size, layout.output_size, layout.start) == (5, 4, 1)
    assert layout.writes == ((0, 1, 2), (2, 3, 4))
    assert layout.formula.endswith("= 4")
    np.testing.assert_array_equal(layout.counts, [[1, 2, 1, 1], [2, 4, 2, 2], [1, 2, 1, 1], [1, 2, 1, 1]])


def test_layout_formula_names_keras_rules():
    assert transpose_layout(3, 3, 2, "same").formula == "'same': o = i * s = 3 * 2 = 6"
    valid = transpose_layout(3, 1, 2, "valid")
    assert valid.output_size == 6 and "default a = max(k, s) - k" in valid.formula


@pytest.mark.parametrize("setting", [(3, 3, 2, "same", None), (2, 2, 2, 1, 1), (4, 4, 3, "valid", 2), (1, 1, 1, 0, 0)])
def test_keras_shape_matches_layout(setting):
    assert keras_output_shape(*setting)[1:3] == (transpose_layout(*setting).output_size,) * 2


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ((2, 3, 2, 1, 2), "output_padding must be smaller than stride"),
        ((2, 2, 2, "same", 0), "even kernel"),
        ((1, 2, 1, 2, None), "leaves nothing"),
        ((2, 3, 2, "full", None), "padding must be"),
    ],
)
def test_invalid_settings_raise_value_error(setting, message):
    with pytest.raises(ValueError, match=message):
        transpose_layout(*setting)
    with pytest.raises(ValueError, match=message):
        keras_output_shape(*setting)


def test_drawings_have_the_expected_panels():
    figure = draw_transpose_layout(transpose_layout(3, 3, 2, "same"))
    assert len(figure.axes) == 3  # who writes where, the counts, the colour bar
    assert "output 6x6" in figure.axes[1].get_title()
    grids = draw_grids({"a": np.eye(2), "b": np.ones((3, 3))})
    assert [ax.get_title() for ax in grids.axes] == ["a\n2x2", "b\n3x3"]
    with pytest.raises(ValueError, match="must be a 2-D array"):
        draw_grids({"bad": np.ones(3)})
    with pytest.raises(ValueError, match="at least one"):
        draw_grids({})


def test_widget_updates_and_shows_invalid_settings_as_a_message():
    explorer = transpose_explorer(input_size=2, kernel_size=3, stride=2, padding=1, output_padding=1)
    assert explorer.layout.output_size == 4
    assert "= 4" in explorer.message.value and "(matches)" in explorer.message.value
    explorer.controls["stride"].value = 1  # output_padding 1 is now too large: a message, no exception
    assert explorer.layout is None and "output_padding must be smaller than stride" in explorer.message.value
    explorer.controls["output_padding"].value = 0
    assert explorer.layout.output_size == 2 and "(matches)" in explorer.message.value
    explorer.controls["padding"].value = "same"
    assert explorer.layout.output_size == 2 and "'same' with a" in explorer.message.value
