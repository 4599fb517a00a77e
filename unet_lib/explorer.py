"""Lesson 01's interactive explorer of transposed convolution, built on plain, testable functions.

:func:`transpose_layout` computes what the explorer shows for one setting (or raises ``ValueError``),
:func:`keras_output_shape` asks a real ``Conv2DTranspose``, :func:`draw_transpose_layout` and :func:`draw_grids`
draw, and :func:`transpose_explorer` wires them to ``ipywidgets`` sliders, showing an invalid setting's message
instead of a traceback.
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np

from unet_lib.colours import OKABE_ITO
from unet_lib.reference.arithmetic import check_padding, transpose_axis
from unet_lib.reference.convolution import keras_conv_transpose2d, overlap_count

# One colour per input pixel along the axis drawn (cycled): colour-blind-safe Okabe-Ito colours.
_PIXEL_COLOURS = tuple(OKABE_ITO[name] for name in ("orange", "sky_blue", "green", "purple", "vermillion", "blue"))


@dataclasses.dataclass(frozen=True)
class TransposeLayout:
    """What a square transposed convolution does, for drawing and printing.

    Attributes:
        input_size, kernel_size, stride, padding, output_padding: the setting (``output_padding`` as given,
            ``None`` for Keras's default).
        full_size: side of the full, uncropped output, ``(input_size - 1) * stride + kernel_size``.
        output_size: side of the output the layer returns.
        start: index of the full output's row (and column) where the returned output starts.
        writes: ``writes[r]`` lists the full-output indices input pixel ``r`` writes along one axis.
        counts: ``(output_size, output_size)`` int array, (input pixel, kernel tap) pairs per output pixel.
        formula: the output-size rule with the numbers filled in.
    """

    input_size: int
    kernel_size: int
    stride: int
    padding: int | str
    output_padding: int | None
    full_size: int
    output_size: int
    start: int
    writes: tuple[tuple[int, ...], ...]
    counts: np.ndarray
    formula: str


def transpose_layout(input_size: int, kernel_size: int, stride: int = 1, padding: int | str = 0,
                     output_padding: int | None = None) -> TransposeLayout:
    """Work out a square transposed convolution: sizes, formula, who writes where, overlap counts.

    Args:
        input_size: side of the square input, >= 1.
        kernel_size: side of the square kernel, >= 1.
        stride: >= 1.
        padding: int >= 0 (cropped from both sides) or ``"same"`` / ``"valid"`` (Keras's rules).
        output_padding: int in ``[0, stride)``, or ``None`` (0, or Keras's default for a string padding).

    Returns:
        A :class:`TransposeLayout`.

    Raises:
        ValueError: for a setting that is not allowed, naming the argument and the allowed range.

    Example:
        >>> transpose_layout(2, 3, stride=2, padding=1, output_padding=1).formula
        '(i - 1) * s - 2p + k + a = (2 - 1) * 2 - 2*1 + 3 + 1 = 4'
    """
    size, start = transpose_axis(input_size, kernel_size, stride, padding, output_padding)
    padding = check_padding(padding)
    full = (input_size - 1) * stride + kernel_size
    if padding == "same" and output_padding is None:
        formula = f"'same': o = i * s = {input_size} * {stride} = {size}"
    elif padding == "same":
        formula = (f"'same' with a: o = (i - 1) * s + k % 2 + a = ({input_size} - 1) * {stride} + "
                   f"{kernel_size % 2} + {output_padding} = {size}")
    elif padding == "valid":
        extra = size - full
        default = " (default a = max(k, s) - k)" if output_padding is None else ""
        formula = (f"'valid': o = (i - 1) * s + k + a = ({input_size} - 1) * {stride} + {kernel_size} + "
                   f"{extra} = {size}{default}")
    else:
        formula = (f"(i - 1) * s - 2p + k + a = ({input_size} - 1) * {stride} - 2*{padding} + {kernel_size} + "
                   f"{output_padding or 0} = {size}")
    writes = tuple(tuple(range(r * stride, r * stride + kernel_size)) for r in range(input_size))
    counts = overlap_count((input_size, input_size), kernel_size, stride, padding, output_padding)
    return TransposeLayout(input_size, kernel_size, stride, padding, output_padding, full, size, start, writes,
                           counts, formula)


def keras_output_shape(input_size: int, kernel_size: int, stride: int = 1, padding: int | str = 0,
                       output_padding: int | None = None) -> tuple[int, ...]:
    """The output shape a real Keras layer gives for this setting, on a ``(1, i, i, 1)`` zeros input.

    An int padding ``p`` is ``Conv2DTranspose(padding="valid", output_padding=a)`` then ``Cropping2D(p)``.

    Returns:
        The output shape, e.g. ``(1, 4, 4, 1)``.

    Raises:
        ValueError: for a setting Keras rejects, with Keras's message.
    """
    padding = check_padding(padding)
    zeros_input, zeros_kernel = np.zeros((1, input_size, input_size, 1)), np.zeros((kernel_size, kernel_size, 1, 1))
    try:
        outputs = keras_conv_transpose2d(zeros_input, zeros_kernel, stride, padding, output_padding)
    except ValueError:
        raise  # the argument checks' own message already names the argument and the allowed range
    except Exception as error:  # noqa: BLE001 - Keras raises several types; the explorer shows the message
        raise ValueError(f"Keras rejects this setting: {str(error).splitlines()[0]}") from None
    return tuple(int(size) for size in outputs.shape)


FIGURE_DPI = 100
"""Pixels per inch of the explorer's and :func:`draw_grids`'s figures, whatever the user's matplotlibrc says."""
FIGURE_WIDTH_INCHES = 9.6
"""The widest figure drawn here, 960 px: about a notebook's output width (the digits survive a little shrinking)."""
EXPLORER_MAX_HEIGHT_INCHES = 5.6
"""The explorer's diagram is at most 560 px tall at every setting: sliders and diagram fit on one screen."""
MIN_NUMBER_FONTSIZE = 7.0
"""Smallest font (points) for a value in a cell: 10 px at 100 dpi. Where it does not fit, only the colour shows."""


def _cell_fontsize(cell_points: float, characters: int, largest: float = 12.0) -> float:
    """Font size (points) at which a label of ``characters`` characters fits in a square cell ``cell_points`` wide.

    DejaVu Sans digits are about 0.64 em wide and 0.73 em tall: a label covers at most 3/4 of the cell's width.
    """
    return min(largest, 0.7 * cell_points, 1.15 * cell_points / max(1, characters))


def _integer_ticks(largest: int) -> list[int]:
    """Colour-bar ticks for counts ``0 ... largest``: whole numbers only, at most about 8 of them."""
    from matplotlib.ticker import MaxNLocator

    return [int(tick) for tick in MaxNLocator(nbins=8, integer=True).tick_values(0, largest) if 0 <= tick <= largest]


def draw_transpose_layout(layout: TransposeLayout):
    """Draw a layout: who writes where along one axis (left), overlap counts in 2-D (right).

    Left: one row's input pixels in their colours and the full-output cells each writes (cropped cells grey).
    Right: the returned output coloured (and labelled, where digits fit) by contribution counts. The figure is
    :data:`FIGURE_WIDTH_INCHES` by at most :data:`EXPLORER_MAX_HEIGHT_INCHES`: cells shrink as settings grow.

    Returns:
        A ``matplotlib.figure.Figure`` (no pyplot: nothing global changes) whose axes are, in order, the
        who-writes-where panel, the counts panel and the colour bar.
    """
    from matplotlib import colormaps
    from matplotlib.colors import BoundaryNorm
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    full, size, start, n_inputs = layout.full_size, layout.output_size, layout.start, layout.input_size
    columns = max(full, start + size, n_inputs)
    # Each panel's extent in cells: (width, height) of its data limits.
    writes_extent = (columns + 0.4, n_inputs + 3.0)
    counts_extent = (size, size)
    # Room in inches besides cells: "input"/"output" labels, gap, colour bar, two title lines, bottom margin.
    label_room, gap, colour_bar_room, title_room, bottom_room = 0.75, 0.35, 0.75, 0.6, 0.15
    # A panel's slot is at least this wide, so its two-line title fits above it even for a tiny grid.
    min_slot = 3.0
    available = FIGURE_WIDTH_INCHES - label_room - gap - colour_bar_room
    tallest = max(writes_extent[1], counts_extent[1])
    # The largest cell (inches, 0.4 at most) with which both slots fit across the figure (each at least
    # min_slot) and the taller panel fits under EXPLORER_MAX_HEIGHT_INCHES.
    cell = min(0.4, (available - min_slot) / writes_extent[0], (available - min_slot) / counts_extent[0],
               available / (writes_extent[0] + counts_extent[0]),
               (EXPLORER_MAX_HEIGHT_INCHES - title_room - bottom_room) / tallest)
    height = title_room + cell * tallest + bottom_room
    figure = Figure(figsize=(FIGURE_WIDTH_INCHES, height), dpi=FIGURE_DPI)
    writes_slot = max(min_slot, cell * writes_extent[0])
    panel_top = height - title_room

    def add_panel(slot_left, slot_width, extent):
        """Axes ``extent`` cells large, centred in its slot and hanging from ``panel_top`` (inches)."""
        width, panel_height = cell * extent[0], cell * extent[1]
        left = slot_left + (slot_width - width) / 2
        return figure.add_axes((left / FIGURE_WIDTH_INCHES, (panel_top - panel_height) / height,
                                width / FIGURE_WIDTH_INCHES, panel_height / height))

    writes_axes = add_panel(label_room, writes_slot, writes_extent)
    counts_left = label_room + writes_slot + gap
    counts_axes = add_panel(counts_left, available - writes_slot, counts_extent)
    cell_points = cell * 72
    label_fontsize = _cell_fontsize(cell_points, 2, largest=10.0)

    # Left panel: row 0 is the input, row r + 1 what input pixel r writes into the full output.
    for r, written in enumerate(layout.writes):
        colour = _PIXEL_COLOURS[r % len(_PIXEL_COLOURS)]
        writes_axes.add_patch(Rectangle((r * layout.stride, 0), 1, 1, facecolor=colour, edgecolor="black"))
        if label_fontsize >= MIN_NUMBER_FONTSIZE:
            writes_axes.text(r * layout.stride + 0.5, 0.5, f"x{r}", ha="center", va="center", fontsize=label_fontsize)
        for column in written:
            writes_axes.add_patch(Rectangle((column, r + 1.3), 1, 1, facecolor=colour, edgecolor="black", alpha=0.8))
    kept = slice(start, start + size)
    for column in range(columns):
        inside = kept.start <= column < kept.stop
        writes_axes.add_patch(Rectangle((column, n_inputs + 1.6), 1, 1, facecolor="white" if inside else "#BBBBBB",
                                        edgecolor="black"))
        if column >= full and inside and label_fontsize >= MIN_NUMBER_FONTSIZE:
            writes_axes.text(column + 0.5, n_inputs + 2.1, "0", ha="center", va="center", fontsize=label_fontsize)
    writes_axes.set_xlim(-0.2, columns + 0.2)
    writes_axes.set_ylim(n_inputs + 2.8, -0.2)
    writes_axes.set_yticks([0.5, n_inputs + 2.1], ["input", "output"], fontsize=10)
    writes_axes.tick_params(axis="y", length=0)
    writes_axes.set_xticks([])
    writes_axes.set_title(f"one row: input pixel r writes r*{layout.stride} ... r*{layout.stride} + "
                          f"{layout.kernel_size - 1}\nof the full output ({full} wide); grey = cropped", fontsize=10)
    for spine in writes_axes.spines.values():
        spine.set_visible(False)

    # Right panel: one colour per count, so the colour bar reads in whole contributions.
    counts = layout.counts
    largest = max(1, int(counts.max()))
    colours = colormaps["Blues"].resampled(largest + 1)
    image = counts_axes.imshow(counts, cmap=colours, norm=BoundaryNorm(np.arange(-0.5, largest + 1.5), colours.N))
    count_fontsize = _cell_fontsize(cell_points, len(str(largest)))
    numbers_fit = count_fontsize >= MIN_NUMBER_FONTSIZE
    if numbers_fit:
        for (row, column), count in np.ndenumerate(counts):
            counts_axes.text(column, row, str(count), ha="center", va="center", fontsize=count_fontsize,
                             color="white" if count > 0.6 * largest else "black")
    counts_axes.set_xticks([])
    counts_axes.set_yticks([])
    shown = "" if numbers_fit else "; too small to print, see colours"
    counts_axes.set_title(f"output {size}x{size}: contributions per pixel\n"
                          f"(min {counts.min()}, max {counts.max()}{shown})", fontsize=10)
    counts_right = counts_axes.get_position().x1 * FIGURE_WIDTH_INCHES
    colour_bar_height = cell * tallest
    colour_bar_axes = figure.add_axes(((counts_right + 0.12) / FIGURE_WIDTH_INCHES,
                                       (panel_top - colour_bar_height) / height,
                                       0.15 / FIGURE_WIDTH_INCHES, colour_bar_height / height))
    colour_bar = figure.colorbar(image, cax=colour_bar_axes, spacing="proportional", ticks=_integer_ticks(largest))
    colour_bar.ax.tick_params(labelsize=9)
    colour_bar.minorticks_off()  # the discrete bounds (0.5, 1.5, ...) would otherwise get minor ticks
    return figure


def draw_grids(grids: dict, *, numbers: bool = True, cmap: str = "Blues", title: str | None = None):
    """Small arrays as coloured grids, in rows of at most 9.6 inches (960 px), optionally with each value in its cell.

    Panels are 2.3 to 3.2 inches wide at :data:`FIGURE_DPI`, as many per row as fit in
    :data:`FIGURE_WIDTH_INCHES`, rows filled evenly (7 grids: 4 + 3). Values are written as large as fits
    (up to 12 pt); a panel too small for :data:`MIN_NUMBER_FONTSIZE` shows colours only and says so.

    Args:
        grids: panel title -> 2-D array ``(H, W)``.
        numbers: write the values in the cells (where they fit).
        cmap: matplotlib colour map name.
        title: an overall title.

    Returns:
        A ``matplotlib.figure.Figure``, at most :data:`FIGURE_WIDTH_INCHES` wide.

    Raises:
        ValueError: if ``grids`` is empty or holds an array that is not 2-D.
    """
    from matplotlib.figure import Figure

    if not grids:
        raise ValueError("grids must hold at least one 2-D array, got none")
    arrays = {name: np.asarray(grid) for name, grid in grids.items()}
    for name, grid in arrays.items():
        if grid.ndim != 2:
            raise ValueError(f"grids[{name!r}] must be a 2-D array, got shape {grid.shape}")
    longest_side = max(max(grid.shape) for grid in arrays.values())
    # About 0.2 inch (20 px) per cell of the largest grid, within 2.3 inches (room for a title
    # like "padding=1, output_padding=1") and 3.2 (three 16x16 grids fill a row).
    panel_width = float(np.clip(0.2 * longest_side, 2.3, 3.2))
    # (The epsilon keeps 9.6 / 3.2 at 3 panels: in floating point it is 2.9999...)
    fitting_per_row = int(FIGURE_WIDTH_INCHES / panel_width + 1e-9)
    rows = -(-len(arrays) // fitting_per_row)  # ceiling division
    per_row = -(-len(arrays) // rows)
    # A tall grid (e.g. 16x9) gets a taller panel, up to 1.25 times its width; beyond that it is shrunk.
    panel_height = panel_width * min(1.25, max(grid.shape[0] / grid.shape[1] for grid in arrays.values()))
    title_height, suptitle_height = 0.5, 0.35 if title else 0.0
    figure = Figure(figsize=(per_row * panel_width, rows * (panel_height + title_height) + suptitle_height),
                    dpi=FIGURE_DPI, layout="constrained")
    axes = figure.subplots(rows, per_row, squeeze=False).ravel()
    for ax in axes[len(arrays):]:
        ax.set_axis_off()  # the unused places of the last row
    for ax, (name, grid) in zip(axes, arrays.items(), strict=False):
        low, high = float(grid.min()), float(grid.max())
        ax.imshow(grid, cmap=cmap, vmin=low, vmax=high if high > low else low + 1)
        ax.set_title(f"{name}\n{grid.shape[0]}x{grid.shape[1]}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        figure.suptitle(title, fontsize=11)
    if numbers:
        # The cells' size is known only once the layout has placed the panels.
        figure.draw_without_rendering()
        for ax, (name, grid) in zip(axes, arrays.items(), strict=False):
            labels = [f"{value:g}" for value in grid.ravel()]
            box = ax.get_window_extent()
            cell_points = min(box.width / grid.shape[1], box.height / grid.shape[0]) * 72 / FIGURE_DPI
            fontsize = _cell_fontsize(cell_points, max(map(len, labels)))
            if fontsize < MIN_NUMBER_FONTSIZE:
                ax.set_title(f"{name}\n{grid.shape[0]}x{grid.shape[1]} (values too small to print)", fontsize=10)
                continue
            low, high = float(grid.min()), float(grid.max())
            for (row, column), label in zip(np.ndindex(grid.shape), labels, strict=True):
                value = grid[row, column]
                ax.text(column, row, label, ha="center", va="center", fontsize=fontsize,
                        color="white" if high > low and value > low + 0.6 * (high - low) else "black")
    return figure


CONTROL_WIDTH = "370px"
"""Width of every slider and dropdown of the explorer, label and read-out included."""
CONTROL_LABEL_WIDTH = "110px"
"""Width of the controls' labels: "output_padding" in JupyterLab's 13 px font is about 95 px."""


class TransposeExplorer:
    """Sliders for a square transposed convolution, redrawing :func:`draw_transpose_layout`.

    Attributes:
        controls: name -> widget (``input_size``, ``kernel_size``, ``stride``, ``padding``,
            ``output_padding``, whose value ``"default"`` stands for None, Keras's default).
        message: HTML widget with the formula and Keras's shape, or the reason a setting is invalid.
        plot: Image widget showing the figure as PNG, hidden while the setting is invalid.
        widget: the whole explorer, to ``display``.
        layout: the last valid :class:`TransposeLayout`, ``None`` while the setting is invalid.
    """

    def __init__(self, input_size: int = 2, kernel_size: int = 3, stride: int = 2, padding: int | str = 1,
                 output_padding: int | None = 1):
        import ipywidgets as widgets

        self.controls = {
            "input_size": widgets.IntSlider(value=input_size, min=1, max=8, description="input size"),
            "kernel_size": widgets.IntSlider(value=kernel_size, min=1, max=5, description="kernel size"),
            "stride": widgets.IntSlider(value=stride, min=1, max=4, description="stride"),
            "padding": widgets.Dropdown(options=["valid", "same", 0, 1, 2, 3], value=padding, description="padding"),
            # A Dropdown shows the value None as an empty box, so "default" stands for None (Keras's default).
            "output_padding": widgets.Dropdown(options=[("None (default)", "default"), ("0", 0), ("1", 1), ("2", 2),
                                                        ("3", 3)],
                                               value="default" if output_padding is None else output_padding,
                                               description="output_padding"),
        }
        for control in self.controls.values():
            # One label width for all (wide enough for "output_padding"), so the controls line up.
            control.style.description_width = CONTROL_LABEL_WIDTH
            control.layout.width = CONTROL_WIDTH
        # Controls never shrink (flex 0 0); the message takes the rest of the row, or wraps below them.
        controls = widgets.VBox(list(self.controls.values()),
                                layout=widgets.Layout(flex="0 0 auto", width=CONTROL_WIDTH))
        self.message = widgets.HTML(layout=widgets.Layout(flex="1 1 300px", min_width="260px", margin="0 0 0 12px"))
        # An Image widget, not an Output one: an Output widget captures the outputs of the running cell,
        # which can leave nbclient (nbval and other notebook runners) waiting for ever (jupyter/nbclient#312).
        # The diagram's two panels as two images in a wrapping row: a narrow notebook shows them one under the
        # other, each shrunk a little, instead of one 960 px image shrunk to half its size.
        self.plot = widgets.HBox([widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
                                  for _ in range(2)], layout=widgets.Layout(flex_flow="row wrap"))
        self.layout: TransposeLayout | None = None
        for control in self.controls.values():
            control.observe(self.update, names="value")
        self.widget = widgets.VBox([widgets.HBox([controls, self.message],
                                                 layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start")),
                                    self.plot])
        self.update()

    def settings(self) -> dict:
        """The current values of the controls."""
        values = {name: control.value for name, control in self.controls.items()}
        if values["output_padding"] == "default":
            values["output_padding"] = None
        return values

    def update(self, change=None) -> None:
        """Recompute and redraw for the current settings; show the reason instead if they are invalid."""
        settings = self.settings()
        try:
            self.layout = transpose_layout(**settings)
            keras_shape = keras_output_shape(**settings)
        except ValueError as error:
            self.layout = None
            self.message.value = f"<b style='color:#D55E00'>Not a valid setting.</b><br>{error}"
            self.plot.layout.display = "none"
            return
        size = self.layout.output_size
        keras_layers = "Conv2DTranspose" + (" + Cropping2D" if isinstance(settings["padding"], int) else "")
        verdict = "matches" if keras_shape[1:3] == (size, size) else "DIFFERS"
        self.message.value = (f"<code>{self.layout.formula}</code><br>output: {size}x{size}<br>"
                              f"Keras {keras_layers} on zeros: shape {keras_shape} ({verdict})")
        # Shown as PNG bytes, so the drawing appears whatever matplotlib backend the notebook uses; cut between
        # the who-writes-where panel and the counts panel (with its colour bar).
        from matplotlib.transforms import Bbox

        figure = draw_transpose_layout(self.layout)
        writes, counts = figure.axes[0].get_position(), figure.axes[1].get_position()
        cut = (writes.x1 + counts.x0) / 2 * FIGURE_WIDTH_INCHES
        for image, (left, right) in zip(self.plot.children, [(0, cut), (cut, FIGURE_WIDTH_INCHES)], strict=True):
            png = io.BytesIO()
            figure.savefig(png, format="png", dpi=FIGURE_DPI,
                           bbox_inches=Bbox([[left, 0], [right, figure.get_figheight()]]))
            image.value = png.getvalue()
        self.plot.layout.display = None


def transpose_explorer(**settings) -> TransposeExplorer:
    """Build the explorer; ``display(explorer.widget)`` shows it. Keyword arguments set the start values."""
    return TransposeExplorer(**settings)
