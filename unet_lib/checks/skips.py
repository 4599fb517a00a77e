"""Self-checks for lesson 03's NumPy exercises: the copy-and-crop of a skip, and IoU and Dice from a confusion."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from unet_lib.checks.core import Case, verify
from unet_lib.reference.skips import crop_skip, iou_and_dice

# Each exercise, declared once (see unet_lib/checks/masks.py).
GRADED = {
    "crop_skip": {"function": "unet_lib.reference.skips.crop_skip", "lessons": ["03_skip_connections"], "points": 1},
    "iou_and_dice": {"function": "unet_lib.reference.skips.iou_and_dice", "lessons": ["03_skip_connections"],
                     "points": 2},
}


def crop_skip_cases() -> list[Case]:
    """Skips cropped to a decoder map's size: the paper's lowest level, odd differences, one axis, none, too large."""
    def batch(*shape):  # distinct values, so any misplaced window shows
        return np.arange(np.prod(shape)).reshape(shape)

    inputs = [("the original U-Net's lowest level: 1 x 64 x 64 x 2 cropped to 56x56", batch(1, 64, 64, 2), 56, 56),
              ("odd differences: 2 x 7 x 9 x 8 cropped to 4x6 (3 rows and 3 columns off)", batch(2, 7, 9, 8), 4, 6),
              ("height only, 3 rows off: 1 x 5 x 6 x 6 cropped to 2x6", batch(1, 5, 6, 6), 2, 6),
              ("nothing to crop: 1 x 4 x 4 x 2 kept whole", batch(1, 4, 4, 2), 4, 4)]

    # The usual slips, here in the cases' body: a student copy replaces it with the recorded answers.
    def slips(skip, height, width):
        n, h, w, c = skip.shape
        top, left = h - height - (h - height) // 2, w - width - (w - width) // 2  # the larger half
        mistakes = {"cropping from the top-left corner": skip[:, :height, :width],
                    "taking the odd row and column off the top and left": skip[:, top:top + height, left:left + width]}
        # Read as PyTorch's (N, C, H, W), the crop falls on width and channels (Python's slicing clips the window).
        mistakes["a PyTorch-style crop of axes 2 and 3 (as if (N, C, H, W)): width and channels"] = skip[
            :, :, (w - height) // 2:(w - height) // 2 + height, (c - width) // 2:(c - width) // 2 + width]
        return mistakes

    return [Case(label, (skip, height, width), crop_skip(skip, height, width), {},
                 slips(skip, height, width))
            for label, skip, height, width in inputs]


def crop_skip_hidden_cases() -> list[Case]:
    """Graded but not shown: floats with odd and even differences, the paper's third level, 1x1, two bad inputs (a
    check's visible cases are recorded answers, so a ValueError is graded here only)."""
    skip = np.random.default_rng(2).normal(size=(3, 9, 10, 4))
    return [Case("3 x 9 x 10 x 4 floats cropped to 4x7 (5 rows, 3 columns off)", (skip, 4, 7), None),
            Case("the original U-Net's third level: 1 x 136 x 136 x 1 cropped to 104x104",
                 (np.arange(136 * 136).reshape(1, 136, 136, 1), 104, 104), None),
            Case("1 x 3 x 3 x 5 cropped to 1x1", (np.arange(45).reshape(1, 3, 3, 5), 1, 1), None),
            Case("a target wider than the skip: ValueError", (skip, 4, 11), None),
            Case("a skip without its batch axis (9, 10, 4): ValueError", (skip[0], 4, 4), None)]


def check_crop_skip(learner_function: Callable[..., np.ndarray], cases: list[Case] | None = None) -> None:
    """Check a learner's ``crop_skip(skip, height, width)`` (on ``cases``, if given)."""
    verify("crop_skip", learner_function, crop_skip_cases() if cases is None else cases)


def iou_and_dice_cases() -> list[Case]:
    """Confusion matrices: a worked example, unequal rows and columns, an absent class, a perfect one, weights."""
    inputs = [("2 classes, true [0, 1, 1] predicted [0, 1, 0]: [[1, 0], [1, 1]]", [[1, 0], [1, 1]]),
              ("3 classes, rows and columns unequal", [[50, 3, 2], [4, 20, 1], [6, 0, 14]]),
              ("3 classes, class 2 absent from truth and prediction: NaN", [[5, 1, 0], [2, 7, 0], [0, 0, 0]]),
              ("2 classes, class 1 predicted but never true", [[6, 2], [0, 0]]),
              ("3 classes, all right", [[10, 0, 0], [0, 5, 0], [0, 0, 3]]),
              ("4 classes, weighted counts (floats)",
               [[2.5, 0.5, 0, 1], [0, 3, 0.25, 0], [1, 0, 4, 0], [0, 2, 0, 0.5]])]

    def slips(confusion):  # computed here, in the cases' body, which a student copy replaces with the answers
        hits, rows, columns = np.diag(confusion), confusion.sum(axis=1), confusion.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            iou, dice = hits / (rows + columns - hits), 2 * hits / (rows + columns)
            return {"IoU as precision, TP / (TP + FP) (its column's sum)": (hits / columns, dice),
                    "IoU as recall, TP / (TP + FN) (its row's sum: rows and columns swapped)": (hits / rows, dice),
                    "a union of row sum plus column sum (the intersection counted twice)": (hits / (rows + columns),
                                                                                           dice),
                    "Dice = IoU / (1 + IoU), not 2 IoU / (1 + IoU)": (iou, iou / (1 + iou)),
                    "0 instead of NaN for a class absent from truth and prediction": (np.nan_to_num(iou),
                                                                                      np.nan_to_num(dice))}

    cases = []
    for label, counts in inputs:
        confusion = np.array(counts)
        expected = iou_and_dice(confusion)
        cases.append(Case(label, (confusion,), expected, {}, slips(confusion.astype(float))))
    return cases


def iou_and_dice_hidden_cases() -> list[Case]:
    """Graded but not shown: every class present (the nbgrader release writes the answers as finite literals), and
    two bad inputs."""
    rng = np.random.default_rng(6)
    return [Case("5 classes, random counts", (rng.integers(1, 40, (5, 5)),), None),
            Case("1 class, 7 pixels", (np.array([[7]]),), None),
            Case("4 classes, one never predicted right", (np.array([[9, 1, 0, 2], [0, 4, 1, 0], [3, 0, 0, 1],
                                                                     [0, 2, 0, 6]]),), None),
            Case("a negative count: ValueError", (np.array([[3, -1], [0, 2]]),), None),
            Case("a 3-D array: ValueError", (np.ones((2, 2, 2), dtype=int),), None)]


def check_iou_and_dice(learner_function: Callable[..., tuple], cases: list[Case] | None = None) -> None:
    """Check a learner's ``iou_and_dice(confusion)`` -> ``(iou, dice)`` (on ``cases``, if given)."""
    verify("iou_and_dice", learner_function, iou_and_dice_cases() if cases is None else cases)
