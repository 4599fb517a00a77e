"""How the lessons draw class maps, overlays and learning curves: one set of class colours for all.

The class colours (:data:`unet_lib.colours.CLASS_COLOURS`) are also those of the figures in ``media/``;
Okabe-Ito blue and orange stay apart with every common colour-vision deficiency. Overlays paint classes over
the image *in grey*: the shapes have random colours, so on a colour image a missed shape could pass for a tinted one.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import ListedColormap, to_rgb
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from unet_lib.colours import CLASS_COLOURS
from unet_lib.data import CLASS_NAMES

CLASS_RGB = np.array([to_rgb(colour) for colour in CLASS_COLOURS], dtype=np.float32)
"""``(n_classes, 3)`` RGB in ``[0, 1]`` of each class: background, disc, triangle."""

CLASS_CMAP = ListedColormap(CLASS_RGB, name="unet_lib_classes")
"""A matplotlib colour map with one colour per class, for ``imshow(mask, cmap=CLASS_CMAP, vmin=0, vmax=2)``."""


def show_class_map(axis, mask, title: str | None = None):
    """Draw a mask of class labels on ``axis`` in the class colours, without ticks or frame.

    Args:
        axis: a matplotlib ``Axes``.
        mask: integer labels ``(H, W)`` in ``[0, len(CLASS_NAMES))``.
        title: the axis title, if any.

    Returns:
        The ``AxesImage`` drawn.

    Raises:
        ValueError: if ``mask`` is not 2-D or holds labels outside the classes.
    """
    mask = _checked_mask(mask)
    picture = axis.imshow(mask, cmap=CLASS_CMAP, vmin=0, vmax=len(CLASS_NAMES) - 1, interpolation="nearest")
    axis.set_axis_off()
    if title is not None:
        axis.set_title(title)
    return picture


def class_map_legend(target, overlay: bool = False, **legend_options):
    """Add a legend naming the colour of each class (:data:`CLASS_NAMES`) to an axis or a figure.

    On an axis it sits just right of it; on a figure, centred below the axes (add it after
    ``plt.tight_layout()``, which ignores figure legends).

    Args:
        target: a matplotlib ``Axes`` or ``Figure``.
        overlay: the legend of :func:`overlay_classes` pictures, whose background is the photo in grey (shown
            as a hatched grey patch), not the background colour of a class map.
        **legend_options: passed to ``legend`` (e.g. ``loc``, ``ncol``), replacing the defaults.

    Returns:
        The ``Legend``, whose labels are :data:`CLASS_NAMES` in class order.
    """
    handles = [Patch(facecolor=colour, edgecolor="#555555", label=name)
               for colour, name in zip(CLASS_RGB, CLASS_NAMES, strict=True)]
    if overlay:
        handles[0] = Patch(facecolor="#B0B0B0", edgecolor="#555555", hatch="...",
                           label=f"{CLASS_NAMES[0]} (the photo, in grey)")
    if hasattr(target, "add_subplot"):  # a Figure
        options = {"loc": "upper center", "bbox_to_anchor": (0.5, 0.0), "ncol": len(handles), "frameon": False}
    else:
        options = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "frameon": False}
    return target.legend(handles=handles, **{**options, **legend_options})


def overlay_classes(image, mask, alpha: float = 0.75) -> np.ndarray:
    """The image in grey with every shape pixel of ``mask`` painted in its class colour.

    A shape pixel is ``alpha`` of its class colour and ``1 - alpha`` of the grey, so the texture stays visible.

    Args:
        image: RGB ``(H, W, 3)`` floats in ``[0, 1]``.
        mask: integer labels ``(H, W)`` in ``[0, len(CLASS_NAMES))``, 0 the background.
        alpha: weight of the class colour on shape pixels, in ``[0, 1]``.

    Returns:
        float32 RGB ``(H, W, 3)`` in ``[0, 1]``.

    Raises:
        ValueError: if the shapes do not match, a label is outside the classes or ``alpha`` is not in ``[0, 1]``.
    """
    image = np.asarray(image, dtype=np.float32)
    mask = _checked_mask(mask)
    if image.ndim != 3 or image.shape[-1] != 3 or image.shape[:2] != mask.shape:
        raise ValueError(f"image must be (H, W, 3) with the (H, W) of mask {mask.shape}, got {image.shape}")
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    # Rec. 601 luma: the brightness the eye sees in an RGB colour.
    grey = np.repeat((image @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[..., None], 3, axis=-1)
    painted = (1 - alpha) * grey + alpha * CLASS_RGB[mask]
    return np.where((mask > 0)[..., None], painted, grey).astype(np.float32)


def integer_epochs(axis, label: str = "epoch"):
    """Label the x axis of a learning curve with whole epochs only (1, 2, 3, not 1.25).

    Args:
        axis: a matplotlib ``Axes`` whose x values are epoch numbers.
        label: the x-axis label.

    Returns:
        ``axis``.
    """
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel(label)
    return axis


def _checked_mask(mask) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2 or not (np.issubdtype(mask.dtype, np.integer) or mask.dtype == bool):
        raise ValueError(f"mask must be (H, W) integer class labels, got shape {mask.shape} and dtype {mask.dtype}")
    if mask.size and (mask.min() < 0 or mask.max() >= len(CLASS_NAMES)):
        raise ValueError(f"mask labels must lie in [0, {len(CLASS_NAMES)}), got {mask.min()} to {mask.max()}")
    return mask.astype(np.intp)
