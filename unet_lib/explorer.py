"""Lesson 01's interactive explorer of transposed convolution, built on plain, testable functions.

* :func:`transpose_layout` works out everything the explorer shows for one setting (output size,
  the formula with its numbers, which input pixel writes which output pixel, the overlap counts),
  or raises ``ValueError`` with a message for a setting that is not allowed;
* :func:`keras_output_shape` asks a real ``keras.layers.Conv2DTranspose`` for the same setting;
* :func:`draw_transpose_layout` draws a layout as a matplotlib figure, :func:`draw_grids` small
  arrays with their numbers;
* :func:`transpose_explorer` wires these to ``ipywidgets`` sliders. An invalid setting shows its
  message in the widget instead of a traceback.
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np

from unet_lib.arithmetic import check_padding, transpose_axis
from unet_lib.convolution import keras_conv_transpose2d, overlap_count
from unet_lib.figures import OKABE_ITO

# One colour per input pixel along the axis drawn (cycled): colour-blind-safe Okabe-Ito colours.
_PIXEL_COLOURS = tuple(OKABE_ITO[name] for name in ("orange", "sky_blue", "green", "purple", "vermillion", "blue"))


@dataclasses.dataclass(frozen=True)
class TransposeLayout:
    """What a square transposed convolution does, for drawing and printing.

    Attributes:
        input_size, kernel_size, stride, padding, output_padding: the setting (``output_padding``
            as given, ``None`` for Keras's default).
        full_size: side of the full, uncropped output, ``(input_size - 1) * stride + kernel_size``.
        output_size: side of the output the layer returns.
        start: index of the full output's row (and column) where the returned output starts.
        writes: ``writes[r]`` lists the full-output indices input pixel ``r`` writes along one axis.
        counts: ``(output_size, output_size)`` int array, how many (input pixel, kernel tap) pairs
            add into each output pixel.
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
        ValueError: for a setting that is not allowed, e.g. ``output_padding >= stride``; the
            message names the argument and the allowed range.

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

    Keras has only ``"same"`` and ``"valid"``. An int padding ``p`` is built the way PyTorch and the
    paper define it: ``Conv2DTranspose(padding="valid", output_padding=a)`` followed by
    ``Cropping2D(p)``, which crops ``p`` rows and columns from each side.

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


def draw_transpose_layout(layout: TransposeLayout):
    """Draw a layout: who writes where along one axis (top), overlap counts in 2-D (bottom).

    Top: the input pixels of one row, each with its colour, and the full-output cells each one
    writes (one per kernel tap); cells outside the returned output are greyed. Bottom: the output
    the layer returns, each pixel labelled with how many contributions it adds up.

    Returns:
        A ``matplotlib.figure.Figure`` (no pyplot: nothing global is changed).
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    full, size, start = layout.full_size, layout.output_size, layout.start
    columns = max(full, start + size, layout.input_size)
    figure = Figure(figsize=(max(6.0, 0.45 * columns + 1.5), 3.2 + 0.35 * size), layout="constrained")
    top, bottom = figure.subplots(2, 1, height_ratios=[1.2 + 0.25 * layout.input_size, 0.35 * size + 0.5])

    # Top panel: row 0 is the input, row r + 1 what input pixel r writes into the full output.
    for r, written in enumerate(layout.writes):
        colour = _PIXEL_COLOURS[r % len(_PIXEL_COLOURS)]
        top.add_patch(Rectangle((r * layout.stride, 0), 1, 1, facecolor=colour, edgecolor="black"))
        top.text(r * layout.stride + 0.5, 0.5, f"x{r}", ha="center", va="center", fontsize=8)
        for column in written:
            top.add_patch(Rectangle((column, r + 1.3), 1, 1, facecolor=colour, edgecolor="black", alpha=0.8))
    kept = slice(start, start + size)
    for column in range(columns):
        inside = kept.start <= column < kept.stop
        top.add_patch(Rectangle((column, layout.input_size + 1.6), 1, 1, facecolor="white" if inside else "#BBBBBB",
                                edgecolor="black"))
        if column >= full and inside:
            top.text(column + 0.5, layout.input_size + 2.1, "0", ha="center", va="center", fontsize=8)
    top.set_xlim(-0.2, columns + 0.2)
    top.set_ylim(layout.input_size + 2.8, -0.2)
    top.set_yticks([0.5, layout.input_size + 2.1], ["input", "output"])
    top.set_xticks([])
    top.set_title(f"one row: input pixel r writes kernel taps at r*{layout.stride} ... r*{layout.stride}"
                  f" + {layout.kernel_size - 1}; grey = cropped", fontsize=9)
    for spine in top.spines.values():
        spine.set_visible(False)

    image = bottom.imshow(layout.counts, cmap="Blues", vmin=0, vmax=max(1, int(layout.counts.max())))
    for (row, column), count in np.ndenumerate(layout.counts):
        bottom.text(column, row, str(count), ha="center", va="center", fontsize=8,
                    color="white" if count > 0.6 * layout.counts.max() else "black")
    bottom.set_xticks([])
    bottom.set_yticks([])
    bottom.set_title(f"output {size}x{size}: contributions per pixel "
                     f"(min {layout.counts.min()}, max {layout.counts.max()})", fontsize=9)
    figure.colorbar(image, ax=bottom, shrink=0.8)
    return figure


def draw_grids(grids: dict, *, numbers: bool = True, cmap: str = "Blues", title: str | None = None):
    """Small arrays side by side as coloured grids, optionally with each value written in its cell.

    Args:
        grids: panel title -> 2-D array ``(H, W)``.
        numbers: write the values in the cells (for grids up to about 10x10).
        cmap: matplotlib colour map name.
        title: an overall title.

    Returns:
        A ``matplotlib.figure.Figure``.

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
    figure = Figure(figsize=(2.6 * len(arrays), 2.9), layout="constrained")
    axes = figure.subplots(1, len(arrays), squeeze=False)[0]
    for ax, (name, grid) in zip(axes, arrays.items(), strict=True):
        low, high = float(grid.min()), float(grid.max())
        ax.imshow(grid, cmap=cmap, vmin=low, vmax=high if high > low else low + 1)
        if numbers:
            for (row, column), value in np.ndenumerate(grid):
                ax.text(column, row, f"{value:g}", ha="center", va="center", fontsize=9,
                        color="white" if high > low and value > low + 0.6 * (high - low) else "black")
        ax.set_title(f"{name}\n{grid.shape[0]}x{grid.shape[1]}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        figure.suptitle(title, fontsize=10)
    return figure


class TransposeExplorer:
    """Sliders for a square transposed convolution, redrawing :func:`draw_transpose_layout`.

    Attributes:
        controls: name -> widget (``input_size``, ``kernel_size``, ``stride``, ``padding``,
            ``output_padding``, whose value ``"default"`` stands for None, Keras's default).
        message: HTML widget with the formula and Keras's shape, or the reason a setting is invalid.
        plot: Output widget holding the figure.
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
            control.style.description_width = "initial"  # so "output_padding" is not cut short
        self.message = widgets.HTML()
        self.plot = widgets.Output()
        self.layout: TransposeLayout | None = None
        for control in self.controls.values():
            control.observe(self.update, names="value")
        self.widget = widgets.VBox([widgets.HBox([widgets.VBox(list(self.controls.values())), self.message]),
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
        from IPython.display import Image, clear_output, display

        settings = self.settings()
        try:
            self.layout = transpose_layout(**settings)
            keras_shape = keras_output_shape(**settings)
        except ValueError as error:
            self.layout = None
            self.message.value = f"<b style='color:#D55E00'>Not a valid setting.</b><br>{error}"
            with self.plot:
                clear_output()
            return
        size = self.layout.output_size
        keras_layers = "Conv2DTranspose" + (" + Cropping2D" if isinstance(settings["padding"], int) else "")
        verdict = "matches" if keras_shape[1:3] == (size, size) else "DIFFERS"
        self.message.value = (f"<code>{self.layout.formula}</code><br>output: {size}x{size}<br>"
                              f"Keras {keras_layers} on zeros: shape {keras_shape} ({verdict})")
        # Shown as PNG bytes, so the drawing appears whatever matplotlib backend the notebook uses.
        png = io.BytesIO()
        draw_transpose_layout(self.layout).savefig(png, format="png", dpi=90)
        with self.plot:
            clear_output(wait=True)
            display(Image(png.getvalue()))


def transpose_explorer(**settings) -> TransposeExplorer:
    """Build the explorer; ``display(explorer.widget)`` shows it. Keyword arguments set the start values."""
    return TransposeExplorer(**settings)
