"""Label masks: the integer maps a segmentation model learns to produce."""

from __future__ import annotations

import numpy as np


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
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
        raise ValueError(f"n_classes must be a positive integer, got {n_classes!r}")
    mask = np.asarray(mask)
    if not np.issubdtype(mask.dtype, np.integer):
        raise ValueError(f"mask must hold integer class indices, got dtype {mask.dtype}")
    if mask.size and (mask.min() < 0 or mask.max() >= n_classes):
        raise ValueError(
            f"mask labels must lie in [0, {n_classes}), got values from {mask.min()} to {mask.max()}"
        )
    return (mask[..., None] == np.arange(n_classes)).astype(np.float32)
