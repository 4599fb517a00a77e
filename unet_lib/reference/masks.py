"""Label masks: the integer maps a segmentation model learns to produce."""

from __future__ import annotations

import numpy as np

from unet_lib._validate import check_positive_int


def one_hot(mask: np.ndarray, n_classes: int) -> np.ndarray:
    """Turn a label mask into one channel per class.

    Args:
        mask: integer class indices of shape ``(H, W)`` (or any shape ``S``), each in
            ``[0, n_classes)``.
        n_classes: number of classes, at least 1.

    Returns:
        float32 array of shape ``S + (n_classes,)`` with ``out[..., c] == 1`` where
        ``mask == c`` and 0 elsewhere.

    Raises:
        ValueError: if ``n_classes`` is not a positive integer, ``mask`` is not of an integer
            type, or a label lies outside ``[0, n_classes)``.

    Example:
        >>> one_hot(np.array([[0, 2]]), 3)[0, 1]
        array([0., 0., 1.], dtype=float32)
    """
    check_positive_int("n_classes", n_classes)
    mask = np.asarray(mask)
    if not np.issubdtype(mask.dtype, np.integer):
        raise ValueError(f"mask must hold integer class indices, got dtype {mask.dtype}")
    if mask.size and (mask.min() < 0 or mask.max() >= n_classes):
        raise ValueError(
            f"mask labels must lie in [0, {n_classes}), got values from {mask.min()} to {mask.max()}"
        )
    return (mask[..., None] == np.arange(n_classes)).astype(np.float32)


def colour_mask_to_labels(mask_rgb: np.ndarray, palette) -> np.ndarray:
    """Turn a mask stored as colours (CamVid, Cityscapes' colour files) into class indices.

    Class ``i`` is the pixels whose colour is exactly ``palette[i]``.

    Args:
        mask_rgb: integer RGB values in ``[0, 255]`` (usually uint8), one mask ``(H, W, 3)`` or a
            batch ``(N, H, W, 3)``, as read from an RGB PNG.
        palette: the colour of each class, a sequence of ``(red, green, blue)`` triples in
            ``[0, 255]``, shape ``(n_classes, 3)``; no colour twice. A colour may be absent from
            the mask.

    Returns:
        int32 class indices of shape ``(H, W)`` (or ``(N, H, W)``): ``out[..., y, x] == i``
        where ``mask_rgb[..., y, x, :] == palette[i]``.

    Raises:
        ValueError: if ``mask_rgb`` is not an integer array of shape ``(H, W, 3)`` or
            ``(N, H, W, 3)``, ``palette`` is not a list of distinct RGB triples in ``[0, 255]``,
            or a pixel has a colour that is not in ``palette``: the message gives the first such
            pixel's position (row-major order) and colour, and how many pixels have unknown colours.

    Example:
        >>> mask_rgb = np.array([[[0, 0, 0], [255, 0, 0]]], dtype=np.uint8)  # (1, 2, 3): black, red
        >>> colour_mask_to_labels(mask_rgb, [(0, 0, 0), (0, 255, 0), (255, 0, 0)])
        array([[0, 2]], dtype=int32)
    """
    mask_rgb = np.asarray(mask_rgb)
    if mask_rgb.ndim not in (3, 4) or mask_rgb.shape[-1] != 3:
        raise ValueError(f"mask_rgb must have shape (H, W, 3) or (N, H, W, 3), got shape {mask_rgb.shape}")
    if not np.issubdtype(mask_rgb.dtype, np.integer):
        raise ValueError(f"mask_rgb must hold integer RGB values (uint8), got dtype {mask_rgb.dtype}")
    if mask_rgb.size and (mask_rgb.min() < 0 or mask_rgb.max() > 255):
        raise ValueError(f"mask_rgb values must lie in [0, 255], got values from {mask_rgb.min()} to {mask_rgb.max()}")
    try:
        colours = np.asarray(palette)
    except ValueError:  # ragged: triples of different lengths
        colours = np.asarray(palette, dtype=object)
    whole_numbers = (np.issubdtype(colours.dtype, np.number) and colours.size > 0
                     and np.all(np.isfinite(colours)) and np.all(colours == np.round(colours)))
    if (not whole_numbers or colours.ndim != 2 or colours.shape[1] != 3
            or colours.min() < 0 or colours.max() > 255):
        raise ValueError(f"palette must be a list of (red, green, blue) triples of integers in [0, 255], "
                         f"got {palette!r}")
    colours = colours.astype(np.int64)

    # One integer per colour (0xRRGGBB), so a pixel's class is a lookup in the sorted palette codes.
    def codes(rgb):
        rgb = rgb.astype(np.int64)
        return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]

    palette_codes = codes(colours)
    order = np.argsort(palette_codes, kind="stable")
    sorted_codes = palette_codes[order]
    repeated = sorted_codes[1:] == sorted_codes[:-1]
    if repeated.any():
        colour = tuple(int(v) for v in colours[order[1:][repeated][0]])
        raise ValueError(f"palette must give each class its own colour, but {colour} appears more than once")
    pixel_codes = codes(mask_rgb)
    slots = np.minimum(np.searchsorted(sorted_codes, pixel_codes), len(sorted_codes) - 1)
    known = sorted_codes[slots] == pixel_codes
    if not known.all():
        position = tuple(int(i) for i in np.argwhere(~known)[0])
        colour = tuple(int(v) for v in mask_rgb[position])
        n_unknown = int((~known).sum())
        raise ValueError(
            f"mask_rgb pixel {list(position)} has colour {colour}, which is not in the palette "
            f"({len(colours)} colour{'' if len(colours) == 1 else 's'}); {n_unknown} of {known.size} pixels have "
            "colours outside it"
        )
    return order[slots].astype(np.int32)


def binary_mask_to_labels(mask: np.ndarray, white: float = 255) -> np.ndarray:
    """Turn a black-and-white mask that is almost right (greys along the edges from JPEG or a smooth resize) into
    labels 0 and 1: object where the mask is brighter than half of ``white``.

    Args:
        mask: numbers in ``[0, white]``, one mask ``(H, W)`` or a batch ``(N, H, W)`` (any shape ``S``).
        white: the value of an object pixel: 255 for 8-bit masks, 65535 for 16-bit ones, 1 for masks of 0 and 1.

    Returns:
        int32 labels of shape ``S``: 1 where ``mask > white / 2``, else 0; a mask of only 0s and 1s is taken as
        labels already, whatever ``white`` says.

    Raises:
        ValueError: if ``white`` is not a number > 0, ``mask`` does not hold numbers in ``[0, white]``, or more
            than a tenth of its pixels are grey (strictly between ``white / 4`` and ``3 * white / 4``): then it is
            no black-and-white mask (a photo, a mask of several classes, a soft probability map).

    Example:
        >>> binary_mask_to_labels(np.array([[0, 9, 250, 201]], dtype=np.uint8))
        array([[0, 0, 1, 1]], dtype=int32)
    """
    if isinstance(white, bool) or not isinstance(white, (int, float, np.number)) or not white > 0:
        raise ValueError(f"white must be a number > 0, got {white!r}")
    mask = np.asarray(mask)
    if not np.issubdtype(mask.dtype, np.number):
        raise ValueError(f"mask must hold numbers, got dtype {mask.dtype}")
    if mask.size and (mask.min() < 0 or mask.max() > white):
        raise ValueError(f"mask values must lie in [0, {white}], got values from {mask.min()} to {mask.max()}")
    if mask.size and np.isin(mask, (0, 1)).all():
        # Stored as 0 and 1 already: read on a 0-255 scale, every pixel would silently become background.
        return mask.astype(np.int32)
    n_grey = int(np.count_nonzero((mask > white / 4) & (mask < 3 * white / 4)))
    if 10 * n_grey > mask.size:
        raise ValueError(f"mask is not a black-and-white mask: {n_grey} of {mask.size} pixels are grey (between "
                         f"{white / 4:g} and {3 * white / 4:g}), more than a tenth")
    return (mask > white / 2).astype(np.int32)


def median_frequency_weights(masks: np.ndarray, n_classes: int) -> np.ndarray:
    """Class weights by median-frequency balancing (Eigen and Fergus, ICCV 2015, https://arxiv.org/abs/1411.4734).

    The frequency of class ``c`` is its pixels divided by the pixels of the images in which it appears, so a class
    in few images but large in each is not rare; ``weight[c] = median(frequencies) / frequency[c]``, the median
    over the classes present. A class absent from ``masks`` gets weight 0.

    Args:
        masks: integer labels ``(N, H, W)`` in ``[0, n_classes)``, N >= 1.
        n_classes: number of classes.

    Returns:
        float32 weights ``(n_classes,)``; the class of median frequency weighs 1.

    Raises:
        ValueError: if ``n_classes`` is not a positive integer, or ``masks`` is not an integer ``(N, H, W)`` array
            of labels in ``[0, n_classes)``.

    Example:
        >>> median_frequency_weights(np.array([[[0, 0], [0, 1]], [[0, 0], [2, 2]]]), 4)  # 5/8, 1/4, 2/4
        array([0.8, 2. , 1. , 0. ], dtype=float32)
    """
    check_positive_int("n_classes", n_classes)
    masks = np.asarray(masks)
    if masks.ndim != 3 or not masks.size or not np.issubdtype(masks.dtype, np.integer):
        raise ValueError(f"masks must be integer labels of shape (N, H, W), got {masks.dtype} of shape {masks.shape}")
    if masks.min() < 0 or masks.max() >= n_classes:
        raise ValueError(f"masks must hold labels in [0, {n_classes}), got values from {masks.min()} to {masks.max()}")
    counts = (masks.reshape(len(masks), -1, 1) == np.arange(n_classes)).sum(axis=1)  # (N, n_classes)
    present = counts.sum(axis=0) > 0
    frequency = counts.sum(axis=0)[present] / ((counts[:, present] > 0).sum(axis=0) * masks[0].size)
    weights = np.zeros(n_classes)
    weights[present] = np.median(frequency) / frequency
    return weights.astype(np.float32)
