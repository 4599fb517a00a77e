"""The explorer's plain functions and its widget, without a browser."""

import io
import itertools

import matplotlib
import numpy as np
import pytest
from PIL import Image

from unet_lib import draw_grids, keras_output_shape, overlap_count, transpose_explorer
from unet_lib.explorer import draw_transpose_layout, transpose_layout

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
    assert all(bytes(image.value).startswith(b"\x89PNG") for image in explorer.plot.children)
    assert explorer.plot.layout.display is None
    drawn = b"".join(bytes(image.value) for image in explorer.plot.children)
    # Two images side by side that wrap one under the other in a narrow notebook (a 900 px window with the file
    # panel open leaves about 420 px), so each shrinks little there instead of one 960 px image shrinking to half.
    widths = [Image.open(io.BytesIO(bytes(image.value))).size[0] for image in explorer.plot.children]
    assert len(widths) == 2 and all(width <= 560 for width in widths), widths
    assert explorer.plot.layout.flex_flow == "row wrap"
    assert all(image.layout.max_width == "100%" for image in explorer.plot.children)
    explorer.controls["stride"].value = 1  # output_padding 1 is now too large: a message, no exception
    assert explorer.layout is None and "output_padding must be smaller than stride" in explorer.message.value
    assert explorer.plot.layout.display == "none"  # no stale figure beside the message
    explorer.controls["output_padding"].value = 0
    assert explorer.layout.output_size == 2 and "(matches)" in explorer.message.value
    assert explorer.plot.layout.display is None
    assert all(bytes(image.value).startswith(b"\x89PNG") for image in explorer.plot.children)
    assert b"".join(bytes(image.value) for image in explorer.plot.children) != drawn
    explorer.controls["padding"].value = "same"
    assert explorer.layout.output_size == 2 and "'same' with a" in explorer.message.value


# --------------------------------------------------------------------------------------------
# Legible at the width a notebook shows (about 1000 px): sizes in pixels, digits that fit their cells.

NOTEBOOK_WIDTH_PX = 1000
EXPLORER_MAX_HEIGHT_PX = 560


def _pixel_size(figure) -> tuple[float, float]:
    """(width, height) in pixels of a figure saved at its own dpi, as the explorer saves it."""
    width, height = figure.get_size_inches() * figure.dpi
    return float(width), float(height)


def _displayed_width(figure) -> int:
    """Width in pixels of a figure as a notebook shows it (IPython's PNG: its own dpi, tight bounding box)."""
    from IPython.core.pylabtools import print_figure
    from PIL import Image

    with Image.open(io.BytesIO(print_figure(figure))) as image:
        return image.size[0]


def _cell_texts(ax) -> list:
    """The texts written inside an image panel's cells (not its title)."""
    return [text for text in ax.texts if text.get_text()]


def _drawn(figure):
    """Draw ``figure`` on an Agg canvas (as it is saved to PNG) and return the renderer, to measure texts."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return canvas.get_renderer()


def _assert_texts_fit_their_cells(figure, ax, rows: int, columns: int, share: float = 0.8):
    """Every value written in ``ax`` (a ``rows`` x ``columns`` image), its line box included (ascent and
    descent), takes at most ``share`` of a cell's width and height: neighbouring values keep a gap."""
    renderer = _drawn(figure)
    box = ax.get_window_extent(renderer)
    cell_width, cell_height = box.width / columns, box.height / rows
    texts = _cell_texts(ax)
    assert texts, "no values written"
    for text in texts:
        extent = text.get_window_extent(renderer)
        assert extent.width <= share * cell_width and extent.height <= share * cell_height, (
            f"{text.get_text()!r} is {extent.width:.1f}x{extent.height:.1f} px in a "
            f"{cell_width:.1f}x{cell_height:.1f} px cell")


EXPLORER_SETTINGS = [(4, kernel, stride, "same", None) for stride in range(1, 5) for kernel in range(1, 6)] + [
    (8, 5, 4, "valid", 3),  # the largest output the sliders allow: 36x36
    (8, 5, 1, "same", None),  # the tallest "who writes where" panel: 8 input rows
    (1, 1, 1, 0, None),  # the smallest: one pixel
    (2, 3, 2, 1, 1),  # the lesson's worked example
]


@pytest.mark.parametrize("setting", EXPLORER_SETTINGS, ids=str)
def test_explorer_figure_fits_beside_the_sliders_at_every_setting(setting):
    figure = draw_transpose_layout(transpose_layout(*setting))
    width, height = _pixel_size(figure)
    assert width <= NOTEBOOK_WIDTH_PX and height <= EXPLORER_MAX_HEIGHT_PX, f"{setting}: {width:.0f}x{height:.0f} px"


@pytest.mark.parametrize("setting", [(4, 3, 2, "same", None), (4, 3, 4, "same", None), (4, 5, 3, "valid", 2),
                                     (2, 3, 2, 1, 1)], ids=str)
def test_explorer_counts_are_printed_where_a_learner_reads_them(setting):
    layout = transpose_layout(*setting)
    figure = draw_transpose_layout(layout)
    figure.draw_without_rendering()
    counts_axes = figure.axes[1]
    assert [text.get_text() for text in _cell_texts(counts_axes)] == [str(c) for c in layout.counts.ravel()]
    assert min(text.get_fontsize() for text in _cell_texts(counts_axes)) >= 9
    _assert_texts_fit_their_cells(figure, counts_axes, layout.output_size, layout.output_size)


def test_explorer_says_when_its_cells_are_too_small_for_numbers():
    layout = transpose_layout(8, 5, 4, "valid", 3)
    figure = draw_transpose_layout(layout)
    assert not _cell_texts(figure.axes[1]) and "too small to print" in figure.axes[1].get_title()


@pytest.mark.parametrize("setting", [(4, 3, 2, "same", None), (2, 2, 1, "valid", None), (4, 5, 1, "same", None),
                                     (8, 5, 4, "valid", 3)], ids=str)
def test_colour_bar_ticks_are_whole_counts(setting):
    layout = transpose_layout(*setting)
    figure = draw_transpose_layout(layout)
    figure.draw_without_rendering()
    colour_bar = figure.axes[2]
    low, high = colour_bar.get_ylim()
    shown = [tick for tick in colour_bar.yaxis.get_majorticklocs() if low <= tick <= high]
    assert shown and all(float(tick).is_integer() for tick in shown), shown
    assert shown[0] == 0 and shown[-1] <= max(1, layout.counts.max())
    assert list(colour_bar.yaxis.get_minorticklocs()) == []  # no ticks at the bounds 0.5, 1.5, ...
    labels = [label.get_text() for label in colour_bar.get_yticklabels() if label.get_text()]
    assert labels == [str(int(tick)) for tick in shown]


def test_seven_small_grids_wrap_into_rows_a_notebook_shows_unscaled():
    grids = {f"copy of pixel {index}": np.arange(9.0).reshape(3, 3) for index in range(7)}
    figure = draw_grids(grids)
    assert _displayed_width(figure) <= NOTEBOOK_WIDTH_PX
    figure.draw_without_rendering()
    panels = [ax for ax in figure.axes if ax.get_title()]
    assert len({round(ax.get_position().y0, 3) for ax in panels}) == 2  # two rows: 4 + 3
    for ax in panels:
        assert min(text.get_fontsize() for text in _cell_texts(ax)) >= 11
        _assert_texts_fit_their_cells(figure, ax, 3, 3)


def test_panel_titles_do_not_run_into_each_other():
    figure = draw_grids({"full output (no padding)": np.ones((5, 5)), "padding=1 (formula: 3x3)": np.ones((3, 3)),
                         "padding=1, output_padding=1": np.ones((4, 4)), 'Keras padding="same"': np.ones((4, 4))})
    renderer = _drawn(figure)
    titles = sorted((ax.title.get_window_extent(renderer) for ax in figure.axes), key=lambda box: box.x0)
    for left, right in itertools.pairwise(titles):
        assert left.x1 < right.x0, "two panel titles overlap"


def test_sixteen_by_sixteen_counts_are_legible():
    counts = {f"kernel {k}, stride 2": overlap_count((8, 8), k, stride=2, padding="same") for k in (2, 3, 4)}
    figure = draw_grids(counts, title="contributions per output pixel")
    assert _displayed_width(figure) <= NOTEBOOK_WIDTH_PX
    figure.draw_without_rendering()
    for ax, grid in zip(figure.axes, counts.values(), strict=True):
        assert len(_cell_texts(ax)) == grid.size
        assert min(text.get_fontsize() for text in _cell_texts(ax)) >= 8.5  # 12 px at 100 dpi
        _assert_texts_fit_their_cells(figure, ax, *grid.shape)


def test_grids_too_fine_for_numbers_say_so_instead_of_overprinting():
    figure = draw_grids({"fine": np.arange(40 * 40).reshape(40, 40)})
    assert not _cell_texts(figure.axes[0]) and "too small to print" in figure.axes[0].get_title()


def test_long_message_leaves_the_controls_their_width():
    from unet_lib.explorer import CONTROL_WIDTH

    explorer = transpose_explorer(input_size=4, kernel_size=2, stride=2, padding="same", output_padding=0)
    assert explorer.layout is None and len(explorer.message.value) > 150  # refused, with a long explanation
    top_row = explorer.widget.children[0]
    controls, message = top_row.children
    assert message is explorer.message
    # The controls never shrink below their width; the message takes what is left and wraps (or moves below).
    assert controls.layout.flex == "0 0 auto" and controls.layout.width == CONTROL_WIDTH
    assert all(control.layout.width == CONTROL_WIDTH for control in explorer.controls.values())
    assert message.layout.flex.startswith("1 1") and message.layout.min_width
    assert top_row.layout.flex_flow == "row wrap"
