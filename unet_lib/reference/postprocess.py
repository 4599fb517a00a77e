"""From a model's scores to a result (lesson 07): stitching overlapping tiles, choosing a binary threshold."""

from __future__ import annotations

import numpy as np


def stitch_tiles(tiles: np.ndarray, corners, height: int, width: int) -> np.ndarray:
    """Put the class scores of overlapping tiles together: each pixel gets the mean over the tiles covering it.

    Args:
        tiles: scores ``(N, h, w, C)`` of ``N`` tiles of ``h x w`` pixels and ``C`` classes.
        corners: ``N`` pairs ``(row, column)``, the position of each tile's top-left pixel in the image.
        height, width: the image's size; every tile must lie inside it and every pixel be covered.

    Returns:
        float32 scores ``(height, width, C)``: at each pixel, the mean of the scores there of all tiles covering it.

    Raises:
        ValueError: if ``tiles`` is not 4-D, ``corners`` does not hold one ``(row, column)`` per tile, a tile reaches
            outside the image, or a pixel is covered by no tile.

    Example:
        >>> tiles = np.stack([np.full((2, 2, 1), 1.0), np.full((2, 2, 1), 3.0)])  # overlapping by one column
        >>> stitch_tiles(tiles, [(0, 0), (0, 1)], 2, 3)[..., 0]
        array([[1., 2., 3.],
               [1., 2., 3.]], dtype=float32)
    """
    tiles = np.asarray(tiles, dtype=np.float64)
    if tiles.ndim != 4:
        raise ValueError(f"tiles must have shape (N, h, w, C), got shape {tiles.shape}")
    n_tiles, tile_height, tile_width, n_classes = tiles.shape
    corners = np.asarray(corners)
    if corners.shape != (n_tiles, 2) or not np.issubdtype(corners.dtype, np.integer):
        raise ValueError(f"corners must hold one (row, column) pair of integers per tile, {n_tiles} in all, got "
                         f"{corners.tolist()!r}")
    total = np.zeros((height, width, n_classes))
    count = np.zeros((height, width, 1))
    for tile, (row, column) in zip(tiles, corners, strict=True):
        if row < 0 or column < 0 or row + tile_height > height or column + tile_width > width:
            raise ValueError(f"corners must keep every tile inside the {height}x{width} image, but the "
                             f"{tile_height}x{tile_width} tile at ({row}, {column}) reaches outside it")
        total[row:row + tile_height, column:column + tile_width] += tile
        count[row:row + tile_height, column:column + tile_width] += 1
    if not count.all():
        row, column = np.argwhere(count[..., 0] == 0)[0]
        raise ValueError(f"corners must cover every pixel, but pixel ({row}, {column}) is covered by no tile")
    return (total / count).astype(np.float32)


def best_threshold(probabilities: np.ndarray, truth: np.ndarray, thresholds) -> float:
    """The threshold whose binary prediction ``probabilities > threshold`` has the largest foreground IoU.

    Choose it on held-out images, never on the training ones, and report the score on others again.

    Args:
        probabilities: the model's probability of the object per pixel, in ``[0, 1]``, any shape ``S`` (e.g.
            ``(N, H, W)``).
        truth: labels of shape ``S``, 0 (background) or 1 (object), integers or booleans, at least one 1.
        thresholds: the candidates, a non-empty sequence of numbers.

    Returns:
        The candidate with the largest IoU ``|predicted & truth| / |predicted | truth|`` of the object; of tied
        candidates, the smallest.

    Raises:
        ValueError: if the shapes differ, ``probabilities`` are not in ``[0, 1]``, ``truth`` holds other values than
            0 and 1 or no 1, or ``thresholds`` is empty.

    Example:
        >>> best_threshold(np.array([0.2, 0.4, 0.9]), np.array([0, 1, 1]), [0.1, 0.3, 0.5])
        0.3
    """
    probabilities, truth = np.asarray(probabilities, dtype=np.float64), np.asarray(truth)
    if probabilities.shape != truth.shape:
        raise ValueError(f"probabilities and truth must have the same shape, got {probabilities.shape} and "
                         f"{truth.shape}")
    if probabilities.size and not (probabilities.min() >= 0 and probabilities.max() <= 1):
        raise ValueError("probabilities must lie in [0, 1], got values from "
                         f"{probabilities.min()} to {probabilities.max()}")
    if not np.isin(truth, (0, 1)).all() or not truth.any():
        raise ValueError(f"truth must hold only 0 and 1, with at least one foreground (1) pixel, got values "
                         f"{np.unique(truth)[:10].tolist()}")
    candidates = sorted(float(t) for t in np.ravel(thresholds))
    if not candidates:
        raise ValueError(f"thresholds must hold at least one number, got {thresholds!r}")
    truth = truth.astype(bool)
    scores = [np.count_nonzero((probabilities > t) & truth) / np.count_nonzero((probabilities > t) | truth)
              for t in candidates]
    return candidates[int(np.argmax(scores))]  # argmax: the first, so the smallest, of the tied
