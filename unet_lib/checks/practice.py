"""Self-checks for lessons 06 and 07's practical exercises: masks that are almost right, class weights from label
frequencies, stitching overlapping tiles, and a threshold chosen on held-out pixels."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from unet_lib.checks.core import Case, verify
from unet_lib.reference.masks import binary_mask_to_labels, median_frequency_weights
from unet_lib.reference.postprocess import best_threshold, stitch_tiles

# Each exercise, declared once (see unet_lib/checks/masks.py).
GRADED = {
    "binary_mask_to_labels": {"function": "unet_lib.reference.masks.binary_mask_to_labels",
                              "lessons": ["06_your_own_data"], "points": 1},
    "median_frequency_weights": {"function": "unet_lib.reference.masks.median_frequency_weights",
                                 "lessons": ["06_your_own_data"], "points": 1},
    "stitch_tiles": {"function": "unet_lib.reference.postprocess.stitch_tiles", "lessons": ["07_real_world"],
                     "points": 2},
    "best_threshold": {"function": "unet_lib.reference.postprocess.best_threshold", "lessons": ["07_real_world"],
                       "points": 2},
}


def _cases(reference, inputs, slips) -> list[Case]:
    """``Case``s of ``(label, args, kwargs)`` with the reference's answers and what the ``slips(*args, **kwargs)``
    give (a slip that raises is left out)."""
    cases = []
    for label, args, kwargs in inputs:
        expected = reference(*args, **kwargs)
        mistakes = {}
        for mistake, slip in slips.items():
            try:
                answer = slip(*args, **kwargs)
            except (ValueError, IndexError):
                continue
            mistakes[mistake] = answer  # Case keeps only those that differ from the expected answer
        cases.append(Case(label, args, expected, kwargs, mistakes))
    return cases


def binary_mask_to_labels_cases() -> list[Case]:
    """JPEG-like and smoothly resized masks, an empty one with noise, 0/1 and float masks."""
    jpeg_like = np.array([[0, 3, 250, 255, 255], [12, 0, 241, 127, 255], [40, 5, 255, 201, 0]], dtype=np.uint8)
    noise_only = np.random.default_rng(2).integers(0, 41, (4, 5)).astype(np.uint8)  # no object: all below 64
    smooth = np.kron(np.array([[[0, 1, 1], [0, 0, 1]], [[1, 1, 1], [0, 0, 1]]]), np.ones((4, 3))) * 255.0
    smooth[:, 3, :] = (smooth[:, 3, :] + smooth[:, 4, :]) / 2  # one row per mask blended: greys (127.5 -> 128)
    smooth = np.round(smooth).astype(np.uint8)
    inputs = [
        ("3x5 mask of 0/255 with JPEG's greys", (jpeg_like,), {}),
        ("4x5 mask with no object, only JPEG noise up to 40", (noise_only,), {}),
        ("3x3 mask stored as 0 and 1, white=1", (np.array([[0, 1, 1], [0, 0, 1], [1, 0, 0]]),), {"white": 1}),
        ("3x3 mask stored as 0 and 1, white left at 255: labels already", (np.array([[0, 1], [1, 1], [0, 0]]),), {}),
        ("batch of 2 masks of 8x9, one row resized smoothly", (smooth,), {}),
        ("3x4 float mask in [0, 1], white=1.0", (np.array([[0.02, 0.97, 0.8, 0.0], [0.0, 0.6, 1.0, 0.1],
                                                           [0.0, 0.2, 0.9, 1.0]]),), {"white": 1.0}),
    ]
    # The usual slips, here in the cases' body: a student copy replaces it with the recorded answers.
    slips = {
        "a threshold of 128 whatever white is": lambda mask, white=255: (np.asarray(mask) >= 128).astype(int),
        "half the mask's own largest value, not half of white": lambda mask, white=255: (
            np.asarray(mask) > np.asarray(mask).max() / 2).astype(int),
        "labels inverted: object where the mask is dark": lambda mask, white=255: (
            np.asarray(mask) <= white / 2).astype(int),
    }
    return _cases(binary_mask_to_labels, inputs, slips)


def binary_mask_to_labels_hidden_cases() -> list[Case]:
    """Graded but not shown: a 16-bit batch, a mask exactly a tenth grey (accepted), one more grey pixel, a value
    above white, and a photo (the last three raise ValueError)."""
    rng = np.random.default_rng(6)
    noise = rng.integers(0, 900, (2, 4, 5))
    sixteen_bit = np.where(rng.random((2, 4, 5)) < 0.4, 65535 - noise, noise).astype(np.uint16)
    tenth_grey = np.where(rng.random((10, 10)) < 0.5, 255, 0).astype(np.uint8)
    tenth_grey[3] = [64, 100, 127, 128, 150, 190, 191, 100, 120, 140]  # grey: strictly between 63.75 and 191.25
    one_more = tenth_grey.copy()
    one_more[0, 0] = 70
    return [Case("batch of 2 masks of 4x5, 16-bit, white=65535", (sixteen_bit,), None,
                 {"white": 65535}),
            Case("10x10 mask with 10 grey pixels: a tenth, accepted", (tenth_grey,), None),
            Case("10x10 mask with 11 grey pixels: ValueError", (one_more,), None),
            Case("a value of 300 in an int16 mask: ValueError", (np.array([[0, 300], [255, 0]], np.int16),), None),
            Case("a grey photo, 8x8: ValueError", (rng.integers(0, 256, (8, 8)).astype(np.uint8),), None)]


def check_binary_mask_to_labels(learner_function: Callable[..., np.ndarray], cases: list[Case] | None = None) -> None:
    """Check a learner's ``binary_mask_to_labels(mask, white=255)`` (on ``cases``, if given)."""
    verify("binary_mask_to_labels", learner_function, binary_mask_to_labels_cases() if cases is None else cases)


def median_frequency_weights_cases() -> list[Case]:
    """Masks where a class appears in some images only, one absent, two or four classes present."""
    rng = np.random.default_rng(8)
    some_only = rng.integers(0, 3, (3, 4, 5))
    some_only[1:][some_only[1:] == 2] = 0  # class 2 in the first image only
    four = rng.integers(0, 4, (5, 6, 6))
    four[:2][four[:2] == 3] = 1
    inputs = [
        ("2 masks of 2x2, 4 classes, class 3 absent", (np.array([[[0, 0], [0, 1]], [[0, 0], [2, 2]]]), 4), {}),
        ("3 masks of 4x5, 3 classes, class 2 in one mask only", (some_only, 3), {}),
        ("1 mask of 3x3, 2 classes", (np.array([[[0, 0, 1], [0, 0, 1], [0, 0, 0]]]), 2), {}),
        ("5 masks of 6x6, 4 classes present (median of two middle ones), 5 classes", (four, 5), {}),
    ]

    def slip(by_images=True, median_of_all=False, upside_down=False):
        def weights(masks, n_classes):
            counts = np.array([np.bincount(m.ravel(), minlength=n_classes) for m in masks], dtype=float)
            present = counts.sum(axis=0) > 0
            pixels = (counts > 0).sum(axis=0) * masks[0].size if by_images else np.full(n_classes, masks.size)
            frequency = counts.sum(axis=0) / np.maximum(pixels, 1)
            median = np.median(frequency if median_of_all else frequency[present])
            ratio = frequency / median if upside_down else median / np.where(present, frequency, 1)
            return np.where(present, ratio, 0.0)
        return weights

    slips = {"the frequency over all pixels, not over the images where the class appears": slip(by_images=False),
             "the median over all n_classes, absent classes counted as frequency 0": slip(median_of_all=True),
             "the ratio upside down: frequency / median": slip(upside_down=True)}
    return _cases(median_frequency_weights, inputs, slips)


def median_frequency_weights_hidden_cases() -> list[Case]:
    """Graded but not shown: 6 masks of 5x7 with 6 classes, two absent and one in two masks only, then a label
    out of range (ValueError)."""
    masks = np.random.default_rng(9).integers(0, 6, (6, 5, 7))
    masks[masks == 4] = 0
    masks[masks == 1] = 2
    masks[:4][masks[:4] == 5] = 3
    return [Case("6 masks of 5x7, 6 classes, 1 and 4 absent", (masks, 6), None),
            Case("a label 6 with n_classes 6: ValueError", (masks + (masks == 2) * 4, 6), None)]


def check_median_frequency_weights(learner_function: Callable[..., np.ndarray],
                                   cases: list[Case] | None = None) -> None:
    """Check a learner's ``median_frequency_weights(masks, n_classes)`` (on ``cases``, if given)."""
    verify("median_frequency_weights", learner_function,
           median_frequency_weights_cases() if cases is None else cases)


def stitch_tiles_cases() -> list[Case]:
    """Tiles overlapping by rows and columns, on grids and off them, of 1 to 3 classes."""
    rng = np.random.default_rng(10)
    constant = np.arange(1.0, 5.0)[:, None, None, None] * np.ones((4, 2, 2, 1))
    inputs = [
        ("four 2x2 tiles of 1, 2, 3, 4 in a 3x3 image", (constant, [(0, 0), (0, 1), (1, 0), (1, 1)], 3, 3), {}),
        ("two 2x2 tiles overlapping by one column in a 2x3 image", (constant[[0, 2]], [(0, 0), (0, 1)], 2, 3), {}),
        ("five 3x3 tiles, 2 classes, in a 5x5 image (one off the grid at (1, 2))",
         (rng.normal(size=(5, 3, 3, 2)), [(0, 0), (0, 2), (2, 0), (2, 2), (1, 2)], 5, 5), {}),
        ("six 4x4 tiles at a step of 2, 3 classes, in a 6x8 image",
         (rng.normal(size=(6, 4, 4, 3)), [(r, c) for r in (0, 2) for c in (0, 2, 4)], 6, 8), {}),
    ]

    def stitched(tiles, corners, height, width, mode="mean"):
        total, count = np.zeros((height, width, tiles.shape[-1])), np.zeros((height, width, 1))
        for tile, (row, column) in zip(tiles, corners, strict=True):
            if row + len(tile) > height or column + tile.shape[1] > width:
                raise ValueError("outside")
            window = (slice(row, row + len(tile)), slice(column, column + tile.shape[1]))
            total[window] = tile if mode == "last" else total[window] + tile
            count[window] += 1
        return {"mean": total / count, "sum": total, "last": total, "per tile": total / len(tiles)}[mode]

    slips = {
        "summing the tiles without dividing by how many cover each pixel": lambda *a: stitched(*a, mode="sum"),
        "letting the last tile overwrite the earlier ones": lambda *a: stitched(*a, mode="last"),
        "reading each corner as (x, y), not (row, column)": lambda tiles, corners, *rest: stitched(
            tiles, [corner[::-1] for corner in corners], *rest),
        "dividing by the number of tiles, not by how many cover each pixel": lambda *a: stitched(*a, mode="per tile"),
    }
    return _cases(stitch_tiles, inputs, slips)


def stitch_tiles_hidden_cases() -> list[Case]:
    """Graded but not shown: one tile as large as the image, tiles off any grid, a corner list as an array, a pixel
    no tile covers and a tile beyond the right edge (both ValueError)."""
    rng = np.random.default_rng(11)
    tiles = rng.normal(size=(4, 4, 5, 2))
    corners = [(0, 0), (3, 0), (1, 2), (3, 2)]
    return [Case("one 4x5 tile, the whole image", (tiles[:1], [(0, 0)], 4, 5), None),
            Case("four 4x5 tiles off any grid in a 7x7 image", (tiles, corners, 7, 7), None),
            Case("corners as an int array (4, 2)", (tiles, np.array(corners), 7, 7), None),
            Case("pixel (0, 5) covered by no tile: ValueError", (tiles[:2], corners[:2], 7, 7), None),
            Case("a tile beyond the right edge: ValueError", (tiles, [(0, 0), (3, 0), (1, 2), (3, 3)], 7, 7), None)]


def check_stitch_tiles(learner_function: Callable[..., np.ndarray], cases: list[Case] | None = None) -> None:
    """Check a learner's ``stitch_tiles(tiles, corners, height, width)`` (on ``cases``, if given)."""
    verify("stitch_tiles", learner_function, stitch_tiles_cases() if cases is None else cases)


def best_threshold_cases() -> list[Case]:
    """Small pixel sets where each usual slip picks another threshold, and a noisy batch."""
    rng = np.random.default_rng(12)
    truth = rng.random((2, 4, 4)) < 0.35
    noisy = np.round(np.clip(0.4 * truth + rng.random((2, 4, 4)) * 0.6, 0, 1), 2)
    inputs = [
        ("6 pixels, thresholds 0.3, 0.5, 0.7",
         (np.array([0.1, 0.4, 0.6, 0.8, 0.35, 0.9]), np.array([0, 1, 1, 1, 0, 1]), [0.3, 0.5, 0.7]), {}),
        ("a rare object: 10 pixels, 3 of them object",
         (np.array([0.9, 0.45, 0.45, 0.45, 0.45, 0.45, 0.1, 0.1, 0.2, 0.3]), np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0]),
          [0.4, 0.5]), {}),
        ("probabilities equal to the thresholds (object: above, not at)",
         (np.array([[0.25, 0.5], [0.75, 0.5]]), np.array([[0, 0], [1, 1]]), [0.25, 0.5, 0.75]), {}),
        ("a tie: no probability between 0.3 and 0.5; thresholds unsorted",
         (np.array([0.05, 0.6, 0.9, 0.2]), np.array([0, 1, 1, 0]), [0.5, 0.1, 0.3]), {}),
        ("a batch of 2 noisy 4x4 maps, 10 thresholds", (noisy, truth.astype(int), np.linspace(0.05, 0.95, 10)), {}),
    ]

    def slip(score, at_or_above=False, largest_on_ties=False):
        def choose(probabilities, truth, thresholds):
            probabilities, truth = np.asarray(probabilities), np.asarray(truth).astype(bool)
            ordered = sorted(float(t) for t in thresholds)[::-1 if largest_on_ties else 1]
            called = [probabilities >= t if at_or_above else probabilities > t for t in ordered]
            return ordered[int(np.argmax([score(c, truth) for c in called]))]
        return choose

    def iou(called, truth):
        return (called & truth).sum() / max((called | truth).sum(), 1)

    slips = {"maximising pixel accuracy, not the foreground's IoU": slip(lambda c, t: (c == t).mean()),
             "calling object probabilities >= threshold, not >": slip(iou, at_or_above=True),
             "ties going to the largest threshold, not the smallest": slip(iou, largest_on_ties=True),
             "the mean IoU of background and foreground, not the foreground's": slip(
                 lambda c, t: (iou(c, t) + iou(~c, ~t)) / 2)}
    return _cases(best_threshold, inputs, slips)


def best_threshold_hidden_cases() -> list[Case]:
    """Graded but not shown: a batch with boolean truth and 19 thresholds, probabilities at a threshold, then truth
    without an object and shapes that differ (both ValueError)."""
    rng = np.random.default_rng(13)
    truth = rng.random((3, 5, 5)) < 0.3
    probabilities = np.round(np.clip(0.3 * truth + rng.random((3, 5, 5)) * 0.7, 0, 1), 2)
    return [Case("3 maps of 5x5, boolean truth, 19 thresholds", (probabilities, truth, np.linspace(0.05, 0.95, 19)),
                 None),
            Case("probabilities 0.4 and 0.6 at the thresholds", (np.array([0.4, 0.6, 0.6, 0.2]), np.array([0, 1, 0, 0]),
                                                                  [0.6, 0.4, 0.2]), None),
            Case("truth without an object: ValueError", (probabilities, np.zeros((3, 5, 5), int), [0.5]), None),
            Case("shapes (3, 5, 5) and (5, 5): ValueError", (probabilities, truth[0], [0.5]), None)]


def check_best_threshold(learner_function: Callable[..., float], cases: list[Case] | None = None) -> None:
    """Check a learner's ``best_threshold(probabilities, truth, thresholds)`` (on ``cases``, if given)."""
    verify("best_threshold", learner_function, best_threshold_cases() if cases is None else cases)
