"""Lesson 02 in NumPy: the original U-Net's copy-and-crop of a skip, and the IoU and Dice that score a segmentation."""

from __future__ import annotations

import numpy as np

from unet_lib._validate import check_positive_int


def crop_skip(skip, height, width):
    """Centre-crop a channels-last batch to ``height`` x ``width``: the "copy and crop" of Ronneberger et al.

    With unpadded ("valid") 3x3 convolutions the encoder's map is larger than the upsampled decoder map it is
    concatenated with (568x568 against 392x392 at the original U-Net's top level), so it is cropped around its
    centre first. For an odd difference ``d``, ``d // 2`` rows come off the top and the extra one off the bottom
    (columns: left, then the extra one off the right), as ``keras.layers.Cropping2D(((d // 2, d - d // 2), ...))``.

    Args:
        skip: array ``(N, H, W, C)``.
        height, width: the size to keep, positive and at most ``H`` and ``W``.

    Returns:
        ``(N, height, width, C)``, of ``skip``'s dtype: ``skip[:, top:top + height, left:left + width]`` with
        ``top = (H - height) // 2`` and ``left = (W - width) // 2``.

    Raises:
        ValueError: if ``skip`` is not 4-D, or ``height`` or ``width`` is not a positive integer or exceeds
            ``H`` or ``W``.

    Example:
        >>> crop_skip(np.zeros((1, 568, 568, 2)), 392, 392).shape
        (1, 392, 392, 2)
    """
    skip = np.asarray(skip)
    if skip.ndim != 4:
        raise ValueError(f"skip must be a channels-last batch (N, H, W, C), got shape {skip.shape}")
    for name, size, available in (("height", height, skip.shape[1]), ("width", width, skip.shape[2])):
        if check_positive_int(name, size) > available:
            raise ValueError(f"{name} must be at most the skip's {available} (a crop cannot enlarge), got {size}")
    top, left = (skip.shape[1] - height) // 2, (skip.shape[2] - width) // 2
    return skip[:, top:top + height, left:left + width]


def iou_and_dice(confusion):
    """IoU and Dice of each class from a confusion matrix.

    For class ``c``, ``TP = confusion[c, c]``; the rest of row ``c`` is its false negatives ``FN`` (pixels of
    class ``c`` predicted as another), the rest of column ``c`` its false positives ``FP``.
    ``IoU = TP / (TP + FP + FN)`` (intersection over union) and ``Dice = 2 TP / (2 TP + FP + FN) = 2 IoU / (1 + IoU)``.
    A class absent from both truth and prediction (row and column all 0) has no score: NaN, as in
    :mod:`unet_lib.metrics`, whose means leave it out.

    Args:
        confusion: ``(n_classes, n_classes)`` non-negative pixel counts, ``confusion[t, p]`` the pixels of true
            class ``t`` predicted as ``p`` (:func:`unet_lib.metrics.confusion_matrix`); floats (weighted counts) too.

    Returns:
        ``(iou, dice)``, two float64 arrays ``(n_classes,)`` in ``[0, 1]``, NaN for a class absent from both.

    Raises:
        ValueError: if ``confusion`` is not a square 2-D array of finite, non-negative numbers.

    Example:
        >>> iou_and_dice(np.array([[1, 0], [1, 1]]))
        (array([0.5, 0.5]), array([0.66666667, 0.66666667]))
    """
    confusion = np.asarray(confusion)
    if (confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1] or confusion.size == 0
            or confusion.dtype.kind not in "iuf" or not np.isfinite(confusion).all() or (confusion < 0).any()):
        raise ValueError("confusion must be a square (n_classes, n_classes) array of non-negative counts, got "
                         f"{confusion.dtype} of shape {confusion.shape}")
    hits = np.diag(confusion).astype(np.float64)
    sizes = confusion.sum(axis=0) + confusion.sum(axis=1)  # |predicted| + |true| of each class
    with np.errstate(invalid="ignore", divide="ignore"):  # 0 / 0: a class absent from both, NaN
        return hits / (sizes - hits), 2 * hits / sizes
