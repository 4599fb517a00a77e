"""The course figures, drawn by code: ``python -m course_tools figures`` redraws every ``media/*.png``.

Each figure has one function here that returns a :class:`DrawnFigure`: the matplotlib figure and
the numbers it shows. The numbers come from the library itself (the transposed convolution, the
output-size formulas, the U-Net model, the embedded dataset), never typed by hand, so a figure
cannot drift from the code the lessons run; ``tests/test_figures.py`` checks both the numbers and
that the committed PNGs are exactly what the code draws.

Drawing rules: matplotlib's own defaults (so a user's ``matplotlibrc`` changes nothing), no
pyplot (no global state, no GUI backend), 960 pixels wide (legible at the ~800 px a notebook
shows), the Okabe-Ito colour-blind-safe palette, and no timestamp or version in the PNG metadata,
so redrawing gives byte-identical files.

Reference for the palette: M. Okabe and K. Ito, "Color Universal Design" (2002),
https://jfly.uni-koeln.de/color/
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from unet_lib.colours import CLASS_COLOURS, OKABE_ITO

INK = "#222222"
GRID_LINE = "#555555"
WIDTH_INCHES = 8.0
DPI = 120
"""Every figure is ``WIDTH_INCHES * DPI`` = 960 pixels wide; heights follow from each layout."""

# The colour of each input pixel (and of everything it produces) in the transposed-convolution figures.
PIXEL_COLOURS = (OKABE_ITO["orange"], OKABE_ITO["sky_blue"], OKABE_ITO["green"], OKABE_ITO["purple"])
ENCODER_COLOUR = OKABE_ITO["blue"]
BOTTLENECK_COLOUR = OKABE_ITO["purple"]
DECODER_COLOUR = OKABE_ITO["orange"]
OUTPUT_COLOUR = OKABE_ITO["green"]
SKIP_COLOUR = OKABE_ITO["vermillion"]

ENCODER_DECODER_CONFIG = {"image_size": (96, 128), "channels": 3, "n_filters": 32, "depth": 3, "n_classes": 3}
"""The small encoder-decoder of ``segmen_example.png`` and ``unet-skip-conn.png``: scenes of the
embedded dataset (3 classes) at the U-Net's default 96x128, three levels down and three up."""

UNET_CONFIG = {"input_size": (96, 128, 3), "n_filters": 32, "n_classes": 23, "depth": 4}
"""The U-Net drawn in ``unet.png``: :func:`unet_lib.reference.model.unet_model` with its default sizes."""

SCENE_SEED = 0
"""Seed of the embedded scenes shown in ``instance_seg.png`` and ``segmen_example.png``."""


@dataclasses.dataclass(frozen=True)
class DrawnFigure:
    """One course figure: its file name, the matplotlib figure, and the numbers it shows.

    Attributes:
        name: file stem in ``media/``, e.g. ``"transpose_conv"`` for ``media/transpose_conv.png``.
        figure: the ``matplotlib.figure.Figure``.
        data: every number drawn (grids as arrays, tensor shapes as tuples), for tests and lessons.
    """

    name: str
    figure: Any
    data: dict[str, Any]

    def png_bytes(self) -> bytes:
        """The figure as PNG bytes, identical on every call (no timestamp or version in the metadata)."""
        buffer = io.BytesIO()
        with _style():
            # "Software" would record the matplotlib version: leave it out so only pixels matter.
            self.figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
        return buffer.getvalue()

    def _repr_png_(self) -> bytes:
        # A notebook shows a DrawnFigure as its image.
        return self.png_bytes()

    def save(self, out_dir: str | Path) -> Path:
        """Write ``out_dir/<name>.png`` and return its path."""
        path = Path(out_dir) / f"{self.name}.png"
        path.write_bytes(self.png_bytes())
        return path


# --------------------------------------------------------------------------------------------
# Drawing helpers. Layouts use data units on one equal-aspect axes filling the figure, with
# y growing upwards: a grid cell is 1 x 1, and a grid's (left, top) corner places it.


@contextlib.contextmanager
def _style():
    """matplotlib's defaults, whatever the user's matplotlibrc says, for drawing and saving alike."""
    import matplotlib.style

    with matplotlib.style.context("default"):
        yield


def _in_default_style(draw: Callable[[], DrawnFigure]) -> Callable[[], DrawnFigure]:
    """Decorate a figure function so that it draws in :func:`_style`, whoever calls it."""

    @functools.wraps(draw)
    def draw_in_default_style() -> DrawnFigure:
        with _style():
            return draw()

    return draw_in_default_style


def _canvas(x_range: tuple[float, float], y_range: tuple[float, float]):
    """A figure ``WIDTH_INCHES`` wide whose single axes shows exactly ``x_range`` by ``y_range``."""
    from matplotlib.figure import Figure

    (x0, x1), (y0, y1) = x_range, y_range
    figure = Figure(figsize=(WIDTH_INCHES, WIDTH_INCHES * (y1 - y0) / (x1 - x0)), dpi=DPI)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(x0, x1)
    axes.set_ylim(y0, y1)
    axes.set_aspect("equal")
    axes.set_axis_off()
    return figure, axes


def _tint(colour: str, amount: float) -> str:
    """``colour`` mixed with white: ``amount`` 0 gives white, 1 the colour itself."""
    from matplotlib.colors import to_hex, to_rgb

    return to_hex(1.0 - amount * (1.0 - np.array(to_rgb(colour))))


def _number(value) -> str:
    """A grid value as printed in a cell: integers without a decimal point."""
    value = float(value)
    return str(int(round(value))) if value.is_integer() else f"{value:.3g}"


def _shape_text(shape) -> str:
    """``(96, 128, 32)`` -> ``"96×128×32"``."""
    return "×".join(str(int(side)) for side in shape)


def _cell_centre(left: float, top: float, row: int, column: int) -> tuple[float, float]:
    return left + column + 0.5, top - row - 0.5


def _grid(axes, shape, left, top, *, values=None, fills=None, fontsize=12, weight="normal"):
    """Draw a ``shape`` grid of unit cells with its top-left corner at ``(left, top)``.

    Args:
        axes: where to draw.
        shape: ``(rows, columns)``.
        left, top: position of the top-left corner.
        values: ``(rows, columns)`` numbers to print, or ``None`` for empty cells; a ``NaN``
            leaves that one cell empty.
        fills: one colour for every cell, a ``(rows, columns)`` nested list of colours, or ``None``
            for white.
        fontsize, weight: of the printed numbers.
    """
    from matplotlib.patches import Rectangle

    rows, columns = shape
    for row in range(rows):
        for column in range(columns):
            fill = fills if fills is None or isinstance(fills, str) else fills[row][column]
            axes.add_patch(Rectangle((left + column, top - row - 1), 1, 1, facecolor=fill or "white",
                                     edgecolor=GRID_LINE, linewidth=1.2))
            if values is not None and not np.isnan(values[row][column]):
                axes.text(*_cell_centre(left, top, row, column), _number(values[row][column]), ha="center",
                          va="center", fontsize=fontsize, color=INK, fontweight=weight)


def _outline(axes, left, top, width, height, colour, *, inset=0.0, linewidth=2.5, linestyle="-", hatch=None):
    """A rectangle outline (optionally hatched) from ``(left, top)``, shrunk by ``inset`` on every side."""
    from matplotlib.patches import Rectangle

    axes.add_patch(Rectangle((left + inset, top - height + inset), width - 2 * inset, height - 2 * inset,
                             facecolor="none", edgecolor=colour, linewidth=linewidth, linestyle=linestyle,
                             hatch=hatch))


def _arrow(axes, start, end, colour=INK, *, rad=0.0, linewidth=1.6, shrink=2.0, linestyle="-"):
    """An arrow from ``start`` to ``end``; ``rad`` bends it (positive: counter-clockwise)."""
    axes.annotate("", xy=end, xytext=start, arrowprops={
        "arrowstyle": "-|>", "color": colour, "linewidth": linewidth, "shrinkA": shrink, "shrinkB": shrink,
        "connectionstyle": f"arc3,rad={rad}", "linestyle": linestyle, "mutation_scale": 14})


def _label(axes, x, y, text, *, fontsize=11, colour=INK, ha="center", va="center", weight="normal", **kwargs):
    axes.text(x, y, text, fontsize=fontsize, color=colour, ha=ha, va=va, fontweight=weight, **kwargs)


def _block(axes, centre_x, centre_y, width, height, colour, *, text=None, fontsize=10):
    """A rounded block (a tensor, or a stage of a network) centred at ``(centre_x, centre_y)``."""
    from matplotlib.patches import FancyBboxPatch

    axes.add_patch(FancyBboxPatch((centre_x - width / 2, centre_y - height / 2), width, height,
                                  boxstyle="round,pad=0,rounding_size=0.12", facecolor=_tint(colour, 0.45),
                                  edgecolor=colour, linewidth=1.8))
    if text is not None:
        _label(axes, centre_x, centre_y, text, fontsize=fontsize)


# --------------------------------------------------------------------------------------------
# Transposed convolution: gather vs scatter, the 2x2 worked example, padding and output_padding.


@_in_default_style
def gather_scatter_figure() -> DrawnFigure:
    """``normal_vs_tranpose.png``: a convolution gathers a window, a transposed one scatters it.

    Left, a 3x3 convolution (stride 1) of a 4x4 input: one output pixel reads a 3x3 window.
    Right, the 3x3 transposed convolution of a 2x2 input: one input pixel writes a 3x3 window.
    Both windows come from the library: the gather window is a row of the convolution's matrix
    (:func:`~unet_lib.reference.convolution.conv_matrix`), the scatter window the footprint of
    :func:`~unet_lib.reference.convolution.conv_transpose2d` on a one-pixel image. They coincide, because
    a transposed convolution is the convolution's matrix transposed.

    Returns:
        A :class:`DrawnFigure` whose data holds ``conv_input_size``, ``conv_output_size``,
        ``transpose_input_size``, ``transpose_output_size`` (ints), ``kernel_size``, the chosen
        pixels ``gather_output_pixel`` / ``scatter_input_pixel`` and the boolean 4x4
        ``gather_window`` / ``scatter_window``.
    """
    from unet_lib.reference.arithmetic import conv_output_size, transpose_axis
    from unet_lib.reference.convolution import conv_matrix, conv_transpose2d

    kernel = np.ones((3, 3))
    big, small = 4, conv_output_size(4, 3)
    transpose_big = transpose_axis(small, 3)[0]
    pixel = (0, 1)
    gather_window = conv_matrix((big, big), kernel)[pixel[0] * small + pixel[1]].reshape(big, big) != 0
    one_pixel = np.zeros((small, small))
    one_pixel[pixel] = 1.0
    scatter_window = conv_transpose2d(one_pixel, kernel) != 0

    figure, axes = _canvas((-0.2, 20.2), (-5.6, 2.0))
    highlight, window_fill = OKABE_ITO["vermillion"], _tint(OKABE_ITO["sky_blue"], 0.55)
    # Left: convolution, 4x4 input -> 2x2 output.
    in_left, out_left = 0.3, 7.0
    out_top = -(big - small) / 2
    _grid(axes, (big, big), in_left, 0, fills=[[window_fill if w else None for w in row] for row in gather_window])
    _grid(axes, (small, small), out_left, out_top,
          fills=[[highlight if (r, c) == pixel else None for c in range(small)] for r in range(small)])
    target = _cell_centre(out_left, out_top, *pixel)
    for row, column in np.argwhere(gather_window):
        _arrow(axes, _cell_centre(in_left, 0, row, column), target, OKABE_ITO["blue"], linewidth=1.0, shrink=1)
    _label(axes, 4.7, 1.45, "Convolution: gather", fontsize=13, weight="bold")
    _label(axes, 4.7, 0.65, "many → one: an output pixel reads a 3×3 window", fontsize=10)
    _label(axes, in_left + big / 2, -big - 0.45, f"input {big}×{big}")
    _label(axes, out_left + small / 2, out_top - small - 0.45, f"output {small}×{small}")

    # Right: transposed convolution, 2x2 input -> 4x4 output.
    axes.plot([10.1, 10.1], [-5.3, 1.8], color="#BBBBBB", linewidth=1.0)
    in_left, out_left = 11.2, 15.9
    _grid(axes, (small, small), in_left, out_top,
          fills=[[highlight if (r, c) == pixel else None for c in range(small)] for r in range(small)])
    _grid(axes, (transpose_big, transpose_big), out_left, 0,
          fills=[[window_fill if w else None for w in row] for row in scatter_window])
    source = _cell_centre(in_left, out_top, *pixel)
    for row, column in np.argwhere(scatter_window):
        _arrow(axes, source, _cell_centre(out_left, 0, row, column), OKABE_ITO["blue"], linewidth=1.0, shrink=1)
    _label(axes, 15.3, 1.45, "Transposed convolution: scatter", fontsize=13, weight="bold")
    _label(axes, 15.3, 0.65, "one → many: an input pixel writes a 3×3 window", fontsize=10)
    _label(axes, in_left + small / 2, out_top - small - 0.45, f"input {small}×{small}")
    _label(axes, out_left + transpose_big / 2, -transpose_big - 0.45, f"output {transpose_big}×{transpose_big}")
    _label(axes, 10.1, -5.1, "same 3×3 kernel, stride 1: the shaded windows are the same pixels", fontsize=10,
           backgroundcolor="white")
    return DrawnFigure("normal_vs_tranpose", figure, {
        "conv_input_size": big, "conv_output_size": small, "transpose_input_size": small,
        "transpose_output_size": transpose_big, "kernel_size": 3, "gather_output_pixel": pixel,
        "scatter_input_pixel": pixel, "gather_window": gather_window, "scatter_window": scatter_window,
    })


TRANSPOSE_EXAMPLE_INPUT = np.array([[0.0, 1.0], [2.0, 3.0]])
TRANSPOSE_EXAMPLE_KERNEL = np.array([[0.0, 1.0], [2.0, 3.0]])
"""The 2x2 worked example of ``transpose_conv.png`` (the numbers of d2l.ai's section 14.10)."""


def _one_pixel_images(x: np.ndarray) -> list[tuple[tuple[int, int], np.ndarray]]:
    """For each pixel ``(r, c)`` of ``x``, the image that keeps only that pixel's value."""
    images = []
    for pixel in np.ndindex(x.shape):
        only = np.zeros_like(x)
        only[pixel] = x[pixel]
        images.append((pixel, only))
    return images


@_in_default_style
def transpose_conv_figure() -> DrawnFigure:
    """``transpose_conv.png``: a 2x2 input and a 2x2 kernel give a 3x3 output, one copy per pixel.

    Each input pixel contributes the kernel scaled by its value, placed at its own position
    (stride 1); the four copies add up to the output. Every copy is
    :func:`~unet_lib.reference.convolution.conv_transpose2d` of the image keeping that one pixel, and the
    output is ``conv_transpose2d`` of the whole input.

    Returns:
        A :class:`DrawnFigure` whose data holds ``input`` (2, 2), ``kernel`` (2, 2), ``pixels``
        (the input positions in order), ``partials`` (4, 3, 3): the scaled copies, and
        ``output`` (3, 3).
    """
    from unet_lib.reference.convolution import conv_transpose2d

    x, kernel = TRANSPOSE_EXAMPLE_INPUT, TRANSPOSE_EXAMPLE_KERNEL
    output = conv_transpose2d(x, kernel)
    pixels, partials = zip(*[(pixel, conv_transpose2d(only, kernel)) for pixel, only in _one_pixel_images(x)],
                           strict=True)
    # Where each copy lands: the footprint of a one-pixel image of value 1 under an all-ones kernel.
    footprints = [conv_transpose2d(np.eye(1, x.size, k=index).reshape(x.shape), np.ones_like(kernel)) != 0
                  for index in range(x.size)]
    size = output.shape[0]

    figure, axes = _canvas((-0.1, 21.1), (-4.1, 5.0))
    step = size + 1.35
    in_left, kernel_left, row_top = 5.2, 12.8, 4.0
    _grid(axes, x.shape, in_left, row_top, values=x, fills=[[_tint(c, 0.6) for c in PIXEL_COLOURS[i * 2:i * 2 + 2]]
                                                            for i in range(2)], weight="bold")
    _grid(axes, kernel.shape, kernel_left, row_top, values=kernel, fills="#EEEEEE")
    _label(axes, in_left + 1, row_top + 0.45, "input X (2×2)")
    _label(axes, kernel_left + 1, row_top + 0.45, "kernel K (2×2)")
    _label(axes, (in_left + kernel_left + 2) / 2, row_top - 1.0, "transposed convolution,\nstride 1", fontsize=11)
    _label(axes, 10.5, 0.75, "each input pixel scales K by its value and adds it at its own position; the copies sum "
           "to the output", fontsize=10)
    for index, (pixel, partial, footprint) in enumerate(zip(pixels, partials, footprints, strict=True)):
        left = 0.3 + index * step
        colour = PIXEL_COLOURS[index]
        shown = np.where(footprint, partial, np.nan)
        _grid(axes, partial.shape, left, 0, values=shown,
              fills=[[_tint(colour, 0.6) if f else None for f in row] for row in footprint])
        _label(axes, left + size / 2, -size - 0.4, f"{_number(x[pixel])} × K at ({pixel[0]}, {pixel[1]})",
               fontsize=10)
        _label(axes, left + size + (step - size) / 2, -size / 2, "=" if index == 3 else "+", fontsize=20)
    out_left = 0.3 + 4 * step
    _grid(axes, output.shape, out_left, 0, values=output, fills="#DDDDDD", weight="bold")
    _label(axes, out_left + size / 2, -size - 0.4, f"output ({size}×{size})", fontsize=10)
    return DrawnFigure("transpose_conv", figure, {
        "input": x, "kernel": kernel, "pixels": list(pixels), "partials": np.stack(partials), "output": output,
    })


PADDING_EXAMPLE_INPUT = np.array([[1.0, 2.0], [3.0, 4.0]])
PADDING_EXAMPLE_KERNEL = np.arange(1.0, 10.0).reshape(3, 3)
PADDING_EXAMPLE = {"stride": 2, "padding": 1, "output_padding": 1}
"""The example of ``transpose_conv1.png``: 2x2 input, 3x3 kernel, stride 2, padding 1, output_padding 1."""


@_in_default_style
def transpose_conv_padding_figure() -> DrawnFigure:
    """``transpose_conv1.png``: padding crops the full output, output_padding gives a row back.

    A 2x2 input with a 3x3 kernel at stride 2 scatters into a 5x5 *full* output. ``padding=1``
    crops one row and column from each side, leaving the 3x3 of the plain formula
    ``(i - 1) * s - 2p + k``; ``output_padding=1`` keeps one more row and column at the end,
    giving 4x4. Keras's ``padding="same"`` also gives 4x4, but crops the last row and column
    instead of the first. Sizes come from :func:`~unet_lib.reference.arithmetic.transpose_axis`,
    crops from :func:`~unet_lib.reference.convolution.transpose_geometry`, values from
    :func:`~unet_lib.reference.convolution.conv_transpose2d`.

    Returns:
        A :class:`DrawnFigure` whose data holds ``input``, ``kernel``, ``stride``, ``padding``,
        ``output_padding``, ``full`` (5, 5), ``output`` (4, 4), ``crop_start`` (rows and columns
        cropped at the top and left), ``keras_same_crop_start``, and the sizes ``full_size``,
        ``plain_size`` (no output_padding), ``output_size`` and ``keras_same_size``.
    """
    from unet_lib.reference.arithmetic import transpose_axis
    from unet_lib.reference.convolution import conv_transpose2d, transpose_geometry

    x, kernel = PADDING_EXAMPLE_INPUT, PADDING_EXAMPLE_KERNEL
    stride, padding, output_padding = (PADDING_EXAMPLE[key] for key in ("stride", "padding", "output_padding"))
    i, k = x.shape[0], kernel.shape[0]
    full = conv_transpose2d(x, kernel, stride=stride)
    output = conv_transpose2d(x, kernel, stride=stride, padding=padding, output_padding=output_padding)
    _, crop_start, _ = transpose_geometry(x.shape, kernel.shape, stride, padding, output_padding)
    _, keras_start, _ = transpose_geometry(x.shape, kernel.shape, stride, "same")
    sizes = {
        "full_size": transpose_axis(i, k, stride)[0],
        "plain_size": transpose_axis(i, k, stride, padding)[0],
        "output_size": transpose_axis(i, k, stride, padding, output_padding)[0],
        "keras_same_size": transpose_axis(i, k, stride, "same")[0],
    }
    n_full, n_out = sizes["full_size"], sizes["output_size"]
    kept = np.zeros(full.shape, dtype=bool)
    kept[crop_start[0]:crop_start[0] + n_out, crop_start[1]:crop_start[1] + n_out] = True
    # The cells output_padding adds back: kept, but beyond what the plain formula keeps.
    plain_end = crop_start[0] + sizes["plain_size"]
    added_back = kept.copy()
    added_back[:plain_end, :plain_end] = False

    figure, axes = _canvas((-0.1, 21.1), (-8.3, 1.6))
    input_left, kernel_left, full_left, out_left = 0.2, 3.2, 7.7, 16.3
    _grid(axes, x.shape, input_left, -1.5, values=x, weight="bold",
          fills=[[_tint(c, 0.6) for c in PIXEL_COLOURS[r * 2:r * 2 + 2]] for r in range(2)])
    _grid(axes, kernel.shape, kernel_left, -1.0, values=kernel, fills="#EEEEEE")
    _label(axes, input_left + 1, -0.95, f"input ({i}×{i})")
    _label(axes, kernel_left + 1.5, -0.45, f"kernel ({k}×{k})")
    fills = [[_tint(OKABE_ITO["yellow"], 0.7) if added_back[r, c] else None for c in range(n_full)]
             for r in range(n_full)]
    _grid(axes, full.shape, full_left, 0, values=full, fills=fills, fontsize=11)
    for index, pixel in enumerate(np.ndindex(x.shape)):
        _outline(axes, full_left + pixel[1] * stride, -pixel[0] * stride, k, k, PIXEL_COLOURS[index],
                 inset=0.07 + 0.05 * index, linewidth=2.2)
    for row, column in np.argwhere(~kept):
        _outline(axes, full_left + column, -row, 1, 1, "#AAAAAA", linewidth=0, hatch="///")
    _outline(axes, full_left + crop_start[1], -crop_start[0], n_out, n_out, INK, linewidth=2.8, linestyle="--")
    _label(axes, full_left + n_full / 2, 0.9, f"full output, stride {stride} ({n_full}×{n_full})\n"
           "each input pixel adds its scaled kernel in its colour", fontsize=10)
    _arrow(axes, (full_left + n_full + 0.2, -2.5), (out_left - 0.3, -2.5), INK, linewidth=2)
    out_top = -(n_full - n_out) / 2
    _grid(axes, output.shape, out_left, out_top, values=output, fills="#DDDDDD", weight="bold", fontsize=11)
    _label(axes, out_left + n_out / 2, out_top + 0.75,
           f"output ({n_out}×{n_out}): padding={padding},\noutput_padding={output_padding}", fontsize=10)

    # Legend and the size arithmetic, every number from the library.
    from matplotlib.patches import Rectangle

    legend_y = -5.9
    axes.add_patch(Rectangle((0.2, legend_y - 0.2), 0.5, 0.5, facecolor="white", edgecolor="#AAAAAA", hatch="///"))
    _label(axes, 0.9, legend_y + 0.05, f"cropped by padding={padding}: first row and column", fontsize=10, ha="left")
    axes.add_patch(Rectangle((10.6, legend_y - 0.2), 0.5, 0.5, facecolor=_tint(OKABE_ITO["yellow"], 0.7),
                             edgecolor=GRID_LINE))
    _label(axes, 11.3, legend_y + 0.05, f"kept by output_padding={output_padding}: last row and column",
           fontsize=10, ha="left")
    _label(axes, 0.2, -6.9,
           f"size: (i − 1)·s − 2p + k = ({i} − 1)·{stride} − 2·{padding} + {k} = {sizes['plain_size']},"
           f"   + output_padding {output_padding} = {n_out}", fontsize=11, ha="left")
    keras_rows = f"{keras_start[0]}–{keras_start[0] + sizes['keras_same_size'] - 1}"
    _label(axes, 0.2, -7.7,
           f"Keras padding=\"same\": also {sizes['keras_same_size']}×{sizes['keras_same_size']} (= i·s), but keeps "
           f"rows and columns {keras_rows} (crops the last, not the first)", fontsize=11, ha="left")
    return DrawnFigure("transpose_conv1", figure, {
        "input": x, "kernel": kernel, "stride": stride, "padding": padding, "output_padding": output_padding,
        "full": full, "output": output, "crop_start": tuple(crop_start), "keras_same_crop_start": tuple(keras_start),
        **sizes,
    })


# --------------------------------------------------------------------------------------------
# Segmentation: three ways to label a scene, and encoder-decoder networks.


def label_instances(mask, background: int = 0) -> np.ndarray:
    """Give each connected region of one class its own id: semantic mask -> instance mask.

    Two pixels belong to the same instance when they have the same class and touch along an
    edge (4-connectivity; touching only at a corner is not enough). Each pixel starts with its
    own id; ids then spread to same-class neighbours, each keeping the smaller, until nothing
    changes: every region ends with the id of its first pixel in row-major order.

    Args:
        mask: ``(H, W)`` integer class labels.
        background: the class that is not an object; its pixels get id 0.

    Returns:
        int32 array of shape ``(H, W)``: 0 on the background, instances numbered 1, 2, ... in the
        order of their first pixel (top to bottom, left to right).

    Raises:
        ValueError: if ``mask`` is not a 2-D integer array.

    Example:
        >>> label_instances(np.array([[1, 0, 1], [1, 0, 2]]))
        array([[1, 0, 2],
               [1, 0, 3]], dtype=int32)
    """
    mask = np.asarray(mask)
    if mask.ndim != 2 or not np.issubdtype(mask.dtype, np.integer):
        raise ValueError(f"mask must be a 2-D integer array (H, W) of class labels, got {mask.dtype} {mask.shape}")
    foreground = mask != background
    unset = mask.size  # larger than any pixel index: never wins a minimum
    ids = np.where(foreground, np.arange(mask.size).reshape(mask.shape), unset)
    joined_rows = foreground[1:] & foreground[:-1] & (mask[1:] == mask[:-1])  # pixel and the one below
    joined_columns = foreground[:, 1:] & foreground[:, :-1] & (mask[:, 1:] == mask[:, :-1])
    while True:
        spread = ids.copy()
        np.minimum(spread[1:], np.where(joined_rows, ids[:-1], unset), out=spread[1:])
        np.minimum(spread[:-1], np.where(joined_rows, ids[1:], unset), out=spread[:-1])
        np.minimum(spread[:, 1:], np.where(joined_columns, ids[:, :-1], unset), out=spread[:, 1:])
        np.minimum(spread[:, :-1], np.where(joined_columns, ids[:, 1:], unset), out=spread[:, :-1])
        if np.array_equal(spread, ids):
            break
        ids = spread
    instances = np.zeros(mask.shape, dtype=np.int32)
    # Each region's id is its first pixel's index, so sorted ids are in row-major order.
    instances[foreground] = np.unique(ids[foreground], return_inverse=True)[1] + 1
    return instances


def _convex_hull_area(points: np.ndarray) -> float:
    """Area of the convex hull of ``points: (n, 2)``, by Andrew's monotone chain and the shoelace formula."""
    points = sorted(set(map(tuple, points.tolist())))
    if len(points) < 3:
        return 0.0

    def half(ordered):
        chain = []
        for point in ordered:
            while len(chain) >= 2 and ((chain[-1][0] - chain[-2][0]) * (point[1] - chain[-2][1])
                                       - (chain[-1][1] - chain[-2][1]) * (point[0] - chain[-2][0])) <= 0:
                chain.pop()
            chain.append(point)
        return chain[:-1]

    hull = np.array(half(points) + half(points[::-1]), dtype=float)
    x, y = hull[:, 0], hull[:, 1]
    return 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _solidity(region: np.ndarray) -> float:
    """Pixels of ``region`` over the area of their convex hull: near 1 for one disc or triangle.

    Two shapes of one class that touch form a single connected region with a notch, so a lower
    solidity; a scene where every region is nearly convex has one region per object.
    """
    rows, columns = np.nonzero(region)
    corners = np.concatenate([np.stack([rows + dr, columns + dc], axis=1) for dr in (0, 1) for dc in (0, 1)])
    return float(region.sum()) / _convex_hull_area(corners)


def _pick_scene(masks, min_pixels: int = 60, min_solidity: float = 0.9):
    """The first scene that shows what each kind of labelling can and cannot tell apart.

    That is a scene with both classes, two objects of one class, every object at least
    ``min_pixels`` large, and every region nearly convex (one object each, see :func:`_solidity`).

    Returns:
        ``(index, instances, classes)``: the scene's index, its instance mask, and the class of
        instance 1, 2, ...
    """
    for index, mask in enumerate(masks):
        instances = label_instances(mask)
        regions = [instances == instance_id for instance_id in range(1, instances.max() + 1)]
        classes = np.array([mask[region][0] for region in regions])
        if (set(classes.tolist()) == {1, 2} and len(regions) > 2
                and all(region.sum() >= min_pixels and _solidity(region) >= min_solidity for region in regions)):
            return index, instances, classes
    raise RuntimeError(f"none of the {len(masks)} scenes has both classes and two separate objects of one class")


@_in_default_style
def instance_segmentation_figure() -> DrawnFigure:
    """``instance_seg.png``: one embedded scene labelled three ways.

    Classification gives the whole image one label (here the class covering the most pixels);
    semantic segmentation gives every pixel a class; instance segmentation also tells objects of
    the same class apart (regions from :func:`label_instances`). The scene is the first of
    :func:`~unet_lib.data.make_shapes_dataset` with both classes, two objects of one class, and
    no two objects touching (see :func:`_pick_scene`).

    Returns:
        A :class:`DrawnFigure` whose data holds ``scene_index``, ``image`` (H, W, 3), ``mask``
        (H, W), ``instances`` (H, W), ``instance_classes`` (class of instance 1, 2, ...) and
        ``image_label`` (the classification label, a class name).
    """
    from unet_lib.data import CLASS_NAMES, make_shapes_dataset

    images, masks = make_shapes_dataset(64, image_size=ENCODER_DECODER_CONFIG["image_size"], seed=SCENE_SEED)
    index, instances, classes = _pick_scene(masks)
    image, mask = images[index], masks[index]
    counts = np.bincount(mask.ravel(), minlength=len(CLASS_NAMES))
    image_label = CLASS_NAMES[1 + int(np.argmax(counts[1:]))]
    height, width = mask.shape

    panel_width, gap = 6.0, 0.75
    scale = panel_width / width
    panel_height = height * scale
    figure, axes = _canvas((-0.1, 3 * panel_width + 2 * gap + 0.1), (-panel_height - 1.0, 1.35))
    lefts = [k * (panel_width + gap) for k in range(3)]

    def show(left, picture):
        axes.imshow(picture, extent=(left, left + panel_width, -panel_height, 0), interpolation="nearest")
        _outline(axes, left, 0, panel_width, panel_height, GRID_LINE, linewidth=1.0)

    def centre(left, region):
        rows, columns = np.nonzero(region)
        return left + (columns.mean() + 0.5) * scale, -(rows.mean() + 0.5) * scale

    tag = {"fontsize": 9, "bbox": {"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none",
                                   "alpha": 0.85}}

    from matplotlib.colors import to_rgb

    show(lefts[0], image)
    _label(axes, lefts[0] + panel_width / 2, -panel_height / 2, image_label, fontsize=20, weight="bold",
           bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": INK, "alpha": 0.9})
    class_rgb = np.array([to_rgb(c) for c in CLASS_COLOURS])
    show(lefts[1], class_rgb[mask])
    instance_palette = (OKABE_ITO["sky_blue"], OKABE_ITO["vermillion"], OKABE_ITO["green"], OKABE_ITO["yellow"],
                        OKABE_ITO["purple"], OKABE_ITO["blue"], OKABE_ITO["orange"])
    instance_rgb = np.array([to_rgb(CLASS_COLOURS[0])] + [to_rgb(instance_palette[(i - 1) % len(instance_palette)])
                                                          for i in range(1, instances.max() + 1)])
    show(lefts[2], instance_rgb[instances])
    # Semantic segmentation names the class of each region, instance segmentation also numbers it.
    seen = dict.fromkeys(range(len(CLASS_NAMES)), 0)
    for instance_id, class_index in enumerate(classes, start=1):
        seen[class_index] += 1
        region = instances == instance_id
        _label(axes, *centre(lefts[1], region), CLASS_NAMES[class_index], **tag)
        _label(axes, *centre(lefts[2], region), f"{CLASS_NAMES[class_index]} {seen[class_index]}", **tag)

    titles = (("Classification", "one label for the whole image"),
              ("Semantic segmentation", "a class for every pixel"),
              ("Instance segmentation", "every object its own id"))
    for left, (title, subtitle) in zip(lefts, titles, strict=True):
        _label(axes, left + panel_width / 2, 0.95, title, fontsize=13, weight="bold")
        _label(axes, left + panel_width / 2, 0.35, subtitle, fontsize=10)
    n_objects = len(classes)
    _label(axes, (3 * panel_width + 2 * gap) / 2, -panel_height - 0.55,
           f"The same {height}×{width} scene: 1 label, {len(set(classes))} classes of pixels, {n_objects} objects",
           fontsize=11)
    return DrawnFigure("instance_seg", figure, {
        "scene_index": index, "image": image, "mask": mask, "instances": instances,
        "instance_classes": classes, "image_label": image_label,
    })


def encoder_decoder_shapes(image_size=(96, 128), channels=3, n_filters=32, depth=3, n_classes=3, skips=False):
    """Tensor shapes through an encoder-decoder, from the library's output-size formulas.

    Each encoder level keeps the size through its 3x3 "same" convolutions and halves it with a
    2x2 max-pool (stride 2); each decoder level doubles it with a 3x3 stride-2 "same" transposed
    convolution, as :func:`unet_lib.reference.model.unet_model` does.

    Args:
        image_size: ``(H, W)`` of the input.
        channels: channels of the input image.
        n_filters: filters of the first level, doubled at each level down.
        depth: number of levels down (and up).
        n_classes: channels of the output.
        skips: whether the decoder concatenates the encoder's activations (a U-Net).

    Returns:
        A list of ``(stage, (H, W, C))`` pairs: ``"input"``, then per level ``"encoder{l}"``
        (after the convolutions, the skip connection's shape) and ``"encoder{l}_pool"``, then
        ``"bottleneck"``, then per level ``"decoder{l}_upsample"``, with ``skips`` also
        ``"decoder{l}_concat"``, and ``"decoder{l}"``, and finally ``"logits"``.

    Example:
        >>> dict(encoder_decoder_shapes((32, 32), depth=1, n_filters=4))["bottleneck"]
        (16, 16, 8)
    """
    from unet_lib.reference.arithmetic import conv_output_size, transpose_axis

    height, width = image_size
    stages = [("input", (height, width, channels))]
    skip_shapes = []
    for level in range(1, depth + 1):
        filters = n_filters * 2 ** (level - 1)
        height, width = (conv_output_size(side, 3, padding="same") for side in (height, width))
        stages.append((f"encoder{level}", (height, width, filters)))
        skip_shapes.append((height, width, filters))
        height, width = (conv_output_size(side, 2, stride=2) for side in (height, width))
        stages.append((f"encoder{level}_pool", (height, width, filters)))
    stages.append(("bottleneck", (height, width, n_filters * 2**depth)))
    for level in range(1, depth + 1):
        filters = n_filters * 2 ** (depth - level)
        height, width = (transpose_axis(side, 3, stride=2, padding="same")[0] for side in (height, width))
        stages.append((f"decoder{level}_upsample", (height, width, filters)))
        if skips:
            stages.append((f"decoder{level}_concat", (height, width, filters + skip_shapes[depth - level][2])))
        stages.append((f"decoder{level}", (height, width, filters)))
    stages.append(("logits", (height, width, n_classes)))
    return stages


def _block_size(shape, full_height: int, full_block_height: float) -> tuple[float, float]:
    """Drawn (width, height) of a tensor block: height in proportion to H, width growing with log2(C)."""
    height, _, channels = shape
    return 0.3 + 0.1 * np.log2(channels), full_block_height * height / full_height


@_in_default_style
def encoder_decoder_figure() -> DrawnFigure:
    """``segmen_example.png``: an encoder-decoder as blocks, sizes written on each.

    An embedded scene goes in; the encoder halves height and width three times while the
    channels grow, the decoder doubles them back with transposed convolutions, and a 1x1
    convolution gives one score per class and pixel, whose argmax is a label mask like the one
    shown. Shapes from :func:`encoder_decoder_shapes` with :data:`ENCODER_DECODER_CONFIG`.

    Returns:
        A :class:`DrawnFigure` whose data holds ``stages``: the ``(stage, (H, W, C))`` pairs
        drawn, and ``image`` / ``mask`` of the scene shown.
    """
    from matplotlib.colors import to_rgb

    from unet_lib.data import make_shapes_dataset

    config = ENCODER_DECODER_CONFIG
    shapes = dict(encoder_decoder_shapes(**config))
    levels = range(1, config["depth"] + 1)
    drawn = [f"encoder{level}_pool" for level in levels] + ["bottleneck"] + [f"decoder{level}" for level in levels]
    drawn.append("logits")
    images, masks = make_shapes_dataset(1, image_size=config["image_size"], seed=SCENE_SEED)
    full_height, full_width = config["image_size"]
    colours = {"encoder": ENCODER_COLOUR, "bottleneck": BOTTLENECK_COLOUR, "decoder": DECODER_COLOUR,
               "logits": OUTPUT_COLOUR}

    # Place everything left to right first, so the canvas can fit it exactly.
    thumb_height, gap = 3.2, 1.4
    thumb_width = thumb_height * full_width / full_height
    sizes = [_block_size(shapes[stage], full_height, thumb_height) for stage in drawn]
    lefts = list(thumb_width + gap + np.cumsum([0.0] + [width + gap for width, _ in sizes[:-1]]))
    mask_left = lefts[-1] + sizes[-1][0] + gap + 0.6  # room for the word "argmax" over the arrow
    top, label_y = thumb_height / 2, -thumb_height / 2 - 0.55
    figure, axes = _canvas((-0.2, mask_left + thumb_width + 0.2), (label_y - 1.25, top + 1.5))

    axes.imshow(images[0], extent=(0, thumb_width, -top, top), interpolation="nearest")
    _label(axes, thumb_width / 2, label_y, f"image\n{_shape_text(shapes['input'])}", fontsize=9, linespacing=1.1)
    previous_right = thumb_width
    for stage, left, (width, height) in zip(drawn, lefts, sizes, strict=True):
        shape = shapes[stage]
        colour = colours[next(key for key in colours if stage.startswith(key))]
        _block(axes, left + width / 2, 0, width, height, colour)
        _label(axes, left + width / 2, label_y, f"{shape[0]}×{shape[1]}\n×{shape[2]}", fontsize=9, linespacing=1.1)
        arrow_colour = ENCODER_COLOUR if colour == BOTTLENECK_COLOUR else colour
        _arrow(axes, (previous_right + 0.05, 0), (left - 0.05, 0), arrow_colour, linewidth=1.8, shrink=0)
        previous_right = left + width
    _arrow(axes, (previous_right + 0.05, 0), (mask_left - 0.05, 0), INK, linewidth=1.8, shrink=0)
    _label(axes, (previous_right + mask_left) / 2, 0.4, "argmax", fontsize=8)
    class_rgb = np.array([to_rgb(c) for c in CLASS_COLOURS])
    axes.imshow(class_rgb[masks[0]], extent=(mask_left, mask_left + thumb_width, -top, top), interpolation="nearest")
    _outline(axes, mask_left, top, thumb_width, thumb_height, GRID_LINE, linewidth=1.0)
    _label(axes, mask_left + thumb_width / 2, label_y, f"label mask\n{full_height}×{full_width}", fontsize=9,
           linespacing=1.1)

    bottleneck_index = drawn.index("bottleneck")
    middle = lefts[bottleneck_index] + sizes[bottleneck_index][0] / 2
    halves = ((0.0, middle - 0.15, ENCODER_COLOUR, "down-sampling: conv 3×3, max-pool 2×2 ↓2"),
              (middle + 0.15, mask_left + thumb_width, DECODER_COLOUR, "up-sampling: transposed conv 3×3 ↑2"))
    for start, end, colour, text in halves:
        axes.plot([start, end], [top + 0.45, top + 0.45], color=colour, linewidth=3)
        _label(axes, (start + end) / 2, top + 0.95, text, fontsize=10)
    _label(axes, (mask_left + thumb_width) / 2, label_y - 0.95,
           "each block: the H×W×C tensor a stage outputs (height ∝ H, width grows with C)", fontsize=9.5)
    return DrawnFigure("segmen_example", figure, {
        "stages": [(stage, shapes[stage]) for stage in drawn], "image": images[0], "mask": masks[0],
    })


def _draw_u(axes, levels, bottleneck_text, *, encoder_x, decoder_x, block_width, block_height, top_y, row_step,
            fontsize=9.5):
    """Draw a U-Net as a U: encoder blocks down the left, decoder blocks up the right, skips across.

    Args:
        axes: where to draw.
        levels: one dict per level, top (full resolution) first, with the texts ``encoder``,
            ``decoder`` (inside the blocks), ``skip`` (above the skip arrow), ``pool`` (beside the
            arrow down to the next level) and ``up`` (beside the arrow up from it).
        bottleneck_text: the text of the bottleneck block, drawn below the last level.
        encoder_x, decoder_x: centres of the two columns of blocks.
        block_width, block_height: size of every block.
        top_y: centre of the first level; each level is ``row_step`` lower.
        fontsize: of all the texts.

    Returns:
        The y of each level's centre, then the bottleneck's.
    """
    rows = [top_y - level * row_step for level in range(len(levels) + 1)]
    middle_x = (encoder_x + decoder_x) / 2
    half_width, half_height = block_width / 2, block_height / 2
    for level, texts in enumerate(levels):
        y, below = rows[level], rows[level + 1]
        _block(axes, encoder_x, y, block_width, block_height, ENCODER_COLOUR, text=texts["encoder"], fontsize=fontsize)
        _block(axes, decoder_x, y, block_width, block_height, DECODER_COLOUR, text=texts["decoder"], fontsize=fontsize)
        _arrow(axes, (encoder_x + half_width, y), (decoder_x - half_width, y), SKIP_COLOUR, linewidth=2.0, shrink=0,
               linestyle="--")
        _label(axes, middle_x, y + 0.25, texts["skip"], fontsize=fontsize)
        if level < len(levels) - 1:
            _arrow(axes, (encoder_x, y - half_height), (encoder_x, below + half_height), ENCODER_COLOUR, shrink=0)
            _arrow(axes, (decoder_x, below + half_height), (decoder_x, y - half_height), DECODER_COLOUR, shrink=0)
        else:
            # The deepest level turns the corner: down to the bottleneck's row, across into it, and out again.
            bottleneck_half = (block_width + 0.6) / 2
            axes.plot([encoder_x, encoder_x], [y - half_height, below], color=ENCODER_COLOUR, linewidth=1.6)
            _arrow(axes, (encoder_x, below), (middle_x - bottleneck_half, below), ENCODER_COLOUR, shrink=0)
            axes.plot([middle_x + bottleneck_half, decoder_x], [below, below], color=DECODER_COLOUR, linewidth=1.6)
            _arrow(axes, (decoder_x, below), (decoder_x, y - half_height), DECODER_COLOUR, shrink=0)
        _label(axes, encoder_x + 0.2, (y + below) / 2 - 0.05, texts["pool"], fontsize=fontsize - 0.5, ha="left")
        _label(axes, decoder_x - 0.2, (y + below) / 2 - 0.05, texts["up"], fontsize=fontsize - 0.5, ha="right")
    _block(axes, middle_x, rows[-1], block_width + 0.6, block_height, BOTTLENECK_COLOUR, text=bottleneck_text,
           fontsize=fontsize)
    return rows


@_in_default_style
def skip_connections_figure() -> DrawnFigure:
    """``unet-skip-conn.png``: the same encoder-decoder bent into a U, joined by skip connections.

    At every scale the encoder's activation (before pooling) is copied across and concatenated
    to the decoder's upsampled tensor of the same height and width, so the decoder sees the fine
    detail that pooling threw away. Shapes from :func:`encoder_decoder_shapes` with
    :data:`ENCODER_DECODER_CONFIG` and ``skips=True``.

    Returns:
        A :class:`DrawnFigure` whose data holds ``stages``: every ``(stage, (H, W, C))`` pair of
        the U-Net, and ``skips``: ``(encoder stage, decoder concat stage)`` pairs joined by an
        arrow.
    """
    config = ENCODER_DECODER_CONFIG
    depth = config["depth"]
    stages = encoder_decoder_shapes(**config, skips=True)
    shape = {stage: _shape_text(size) for stage, size in stages}
    levels, skips = [], []
    for level in range(1, depth + 1):
        decoder = depth + 1 - level
        levels.append({
            "encoder": f"encoder {level}\n{shape[f'encoder{level}']}",
            "decoder": f"decoder {decoder}\n{shape[f'decoder{decoder}']}",
            "skip": f"skip: copy {shape[f'encoder{level}']}, concatenate → {shape[f'decoder{decoder}_concat']}",
            "pool": f"max-pool ↓ {shape[f'encoder{level}_pool']}",
            "up": f"transposed conv ↑ {shape[f'decoder{decoder}_upsample']}",
        })
        skips.append((f"encoder{level}", f"decoder{decoder}_concat"))

    figure, axes = _canvas((-0.2, 20.2), (-8.1, 1.9))
    encoder_x, decoder_x = 2.0, 18.0
    rows = _draw_u(axes, levels, f"bottleneck\n{shape['bottleneck']}", encoder_x=encoder_x, decoder_x=decoder_x,
                   block_width=3.0, block_height=1.1, top_y=-0.4, row_step=2.1)
    _label(axes, encoder_x, 1.4, f"image {shape['input']}", fontsize=10)
    _arrow(axes, (encoder_x, 1.1), (encoder_x, rows[0] + 0.55), INK, shrink=0)
    _label(axes, decoder_x, 1.4, f"1×1 conv → {shape['logits']}", fontsize=10)
    _arrow(axes, (decoder_x, rows[0] + 0.55), (decoder_x, 1.1), INK, shrink=0)
    _label(axes, 10.0, -7.65, "skip connections hand the decoder the fine detail that pooling threw away",
           fontsize=11, weight="bold")
    return DrawnFigure("unet-skip-conn", figure, {"stages": stages, "skips": skips})


def _layer_shape(model, name: str) -> tuple[int, ...]:
    return tuple(int(side) for side in model.get_layer(name).output.shape[1:])


@_in_default_style
def unet_figure(build_model=None) -> DrawnFigure:
    """``unet.png``: the course's full U-Net, with the tensor shape at every stage.

    Every shape is read from the layers of an actual U-Net built with :data:`UNET_CONFIG` (the
    model's defaults), so the figure follows the code.

    Args:
        build_model: builds the U-Net with the stage names of :func:`unet_lib.reference.model.unet_model`;
            ``None`` for that reference (an exercise in the student copy, where the figure is drawn already).

    Returns:
        A :class:`DrawnFigure` whose data holds ``config``, ``n_params`` (the model's parameter
        count), ``shapes``: layer name -> ``(H, W, C)`` for every layer whose shape is drawn, and
        ``dropout``: the encoder levels drawn with a ``Dropout`` layer (the model's, read from its layers).
    """
    from unet_lib.reference import model as reference_model

    config = UNET_CONFIG
    depth = config["depth"]
    model = (build_model or reference_model.unet_model)(**config)
    names = ["image", "bottleneck_conv2", "head_conv", "logits"]
    for level in range(1, depth + 1):
        names += [f"encoder{level}_conv2", f"encoder{level}_pool"]
        names += [f"decoder{level}_upsample", f"decoder{level}_concat", f"decoder{level}_conv2"]
    shapes = {name: _layer_shape(model, name) for name in names}
    shape = {name: _shape_text(size) for name, size in shapes.items()}
    n_params = model.count_params()
    layer_names = {layer.name for layer in model.layers}
    dropout = [level for level in range(1, depth + 1) if f"encoder{level}_dropout" in layer_names]
    levels = []
    for level in range(1, depth + 1):
        decoder = depth + 1 - level
        convolutions = "2 × conv 3×3, ReLU" + (", dropout" if level in dropout else "")
        levels.append({
            "encoder": f"encoder{level}\n{convolutions}\n{shape[f'encoder{level}_conv2']}",
            "decoder": f"decoder{decoder}\nconcat {shape[f'decoder{decoder}_concat']}\n"
                       f"2 × conv 3×3 → {shape[f'decoder{decoder}_conv2']}",
            "skip": f"skip {shape[f'encoder{level}_conv2']}",
            "pool": f"max-pool 2×2 → {shape[f'encoder{level}_pool']}",
            "up": f"transposed conv 3×3, stride 2 → {shape[f'decoder{decoder}_upsample']}",
        })

    figure, axes = _canvas((-0.2, 20.2), (-9.45, 2.2))
    encoder_x, decoder_x = 2.55, 17.45
    rows = _draw_u(axes, levels, f"bottleneck\n2 × conv 3×3, dropout\n{shape['bottleneck_conv2']}",
                   encoder_x=encoder_x, decoder_x=decoder_x, block_width=4.9, block_height=1.35, top_y=-0.5,
                   row_step=2.0, fontsize=9)
    _block(axes, encoder_x, 1.55, 4.9, 0.75, "#999999", text=f"image {shape['image']}", fontsize=9)
    _arrow(axes, (encoder_x, 1.17), (encoder_x, rows[0] + 0.68), INK, shrink=0)
    _block(axes, decoder_x, 1.55, 5.3, 0.9, OUTPUT_COLOUR,
           text=f"conv 3×3 → {shape['head_conv']}\n1×1 conv → logits {shape['logits']}", fontsize=9)
    _arrow(axes, (decoder_x, rows[0] + 0.68), (decoder_x, 1.1), INK, shrink=0)
    _label(axes, 10.0, 1.75, f"U-Net: {n_params:,} parameters", fontsize=12, weight="bold")
    _label(axes, 10.0, 1.15, f"{config['n_classes']} class logits per pixel", fontsize=10)
    return DrawnFigure("unet", figure, {"config": dict(config), "n_params": n_params, "shapes": shapes,
                                        "dropout": dropout})


# --------------------------------------------------------------------------------------------
# All figures, and the command line.

FIGURES: dict[str, Callable[[], DrawnFigure]] = {
    "instance_seg": instance_segmentation_figure,
    "segmen_example": encoder_decoder_figure,
    "normal_vs_tranpose": gather_scatter_figure,
    "transpose_conv": transpose_conv_figure,
    "transpose_conv1": transpose_conv_padding_figure,
    "unet-skip-conn": skip_connections_figure,
    "unet": unet_figure,
}
"""File stem in ``media/`` -> the function that draws it. The names are the ones the lessons link."""


def draw_all(out_dir: str | Path = "media") -> dict[str, DrawnFigure]:
    """Draw every course figure and write it to ``out_dir/<name>.png``.

    Args:
        out_dir: folder for the PNG files; created if missing.

    Returns:
        File stem -> :class:`DrawnFigure`, in the order of :data:`FIGURES`.

    Raises:
        ValueError: if ``out_dir`` exists and is not a folder.

    Example:
        >>> drawn = draw_all("media")  # doctest: +SKIP
        >>> drawn["transpose_conv"].data["output"]  # doctest: +SKIP
        array([[ 0.,  0.,  1.], [ 0.,  4.,  6.], [ 4., 12.,  9.]])
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"out_dir must be a folder for the PNG files, got the file {out_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    drawn = {}
    for name, draw in FIGURES.items():
        drawn[name] = draw()
        drawn[name].save(out_dir)
    return drawn


def add_command(subparsers) -> None:
    """The ``figures`` verb: redraw every course figure into a folder."""
    parser = subparsers.add_parser("figures", help="redraw the course figures (media/*.png) from the library's code")
    parser.add_argument("--out", default="media", type=Path, help="folder for the PNG files (default: media)")
    parser.set_defaults(handler=_run_figures)


def _run_figures(arguments: argparse.Namespace) -> int:
    for name in draw_all(arguments.out):
        print(Path(arguments.out) / f"{name}.png")
    return 0
