"""Self-checks for the label-mask exercises."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from unet_lib.checks.core import Case, verify
from unet_lib.reference.masks import colour_mask_to_labels, one_hot

# Each exercise, declared once: the function a learner writes (a student release removes its body), the lessons
# whose self-check grades it and its points there (course_tools.exercises reads this with ast).
GRADED = {
    "one_hot": {"function": "unet_lib.reference.masks.one_hot", "lessons": ["00_setup"], "points": 1},
    "colour_mask_to_labels": {"function": "unet_lib.reference.masks.colour_mask_to_labels",
                              "lessons": ["06_your_own_data"], "points": 2},
}

CAMVID_COLOURS = [(128, 128, 128), (128, 0, 0), (128, 64, 128), (0, 0, 192), (128, 128, 0), (64, 64, 128),
                  (64, 64, 0), (0, 128, 192)]
"""Eight of CamVid's class colours: sky, building, road, sidewalk, tree, fence, pedestrian, bicyclist.
Some differ in one channel only (fence and pedestrian, sky and tree)."""


def one_hot_cases() -> list[Case]:
    """Masks of several shapes and class counts, with the reference one-hot encoding."""
    rng = np.random.default_rng(0)
    inputs = [
        ("2x2 mask, 2 classes", np.array([[0, 1], [1, 0]]), 2),
        ("3x4 mask, 3 classes", rng.integers(0, 3, size=(3, 4)), 3),
        ("5x5 mask with an unused class", rng.integers(0, 3, size=(5, 5)), 4),
        ("1x1 mask, 1 class", np.zeros((1, 1), dtype=int), 1),
    ]
    return [Case(label, (mask, n), one_hot(mask, n)) for label, mask, n in inputs]


def one_hot_hidden_cases() -> list[Case]:
    """Graded but not shown: a batch of masks, a nested list, classes that never occur (inputs only: the grader
    computes the answers with the reference)."""
    return [Case("batch of 2 masks of 3x4, 6 classes", (np.random.default_rng(1).integers(0, 5, (2, 3, 4)), 6), None),
            Case("nested list [[2, 0], [1, 1]], 3 classes", ([[2, 0], [1, 1]], 3), None)]


def check_one_hot(learner_one_hot: Callable[[np.ndarray, int], np.ndarray], cases: list[Case] | None = None) -> None:
    """Check a learner's ``one_hot(mask, n_classes)`` against the reference on several masks (or on ``cases``)."""
    verify("one_hot", learner_one_hot, one_hot_cases() if cases is None else cases)


def _paint(labels: np.ndarray, palette) -> np.ndarray:
    """The colour mask whose pixel of class ``i`` has colour ``palette[i]``: uint8 ``labels.shape + (3,)``."""
    return np.asarray(palette, dtype=np.uint8)[labels]


def colour_mask_to_labels_cases() -> list[Case]:
    """Colour masks, single and batched, with palettes as lists or arrays, and the reference labels."""
    rng = np.random.default_rng(4)
    black_red_green = [(0, 0, 0), (255, 0, 0), (0, 255, 0)]
    # Colours that differ in one channel only; no pixel has class 0 or 3.
    near_colours = [[0, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0]]
    inputs = [
        ("2x3 mask, black/red/green palette", np.array([[0, 1, 1], [0, 2, 2]]), black_red_green),
        ("4x5 mask, CamVid's colours as a uint8 array", rng.integers(0, 8, (4, 5)),
         np.array(CAMVID_COLOURS, dtype=np.uint8)),
        ("batch of 2 masks, shape (2, 3, 4, 3)", rng.integers(0, 3, (2, 3, 4)), black_red_green),
        ("3x3 mask, palette entries 0 and 3 unused", rng.integers(1, 3, (3, 3)), near_colours),
        ("1x1 mask, 1 colour", np.zeros((1, 1), dtype=int), [(7, 8, 9)]),
    ]
    inputs = [(label, _paint(labels, palette), palette) for label, labels, palette in inputs]
    return [Case(label, (mask_rgb, palette), colour_mask_to_labels(mask_rgb, palette))
            for label, mask_rgb, palette in inputs]


def colour_mask_to_labels_hidden_cases() -> list[Case]:
    """Graded but not shown: a batch painted with a six-colour palette of tuples, then the same batch with one
    colour in no palette (the reference raises ValueError)."""
    palette = [(0, 0, 0), (255, 255, 255), (10, 20, 30), (30, 20, 10), (0, 0, 1), (1, 0, 0)]
    painted = _paint(np.random.default_rng(5).integers(0, 6, (3, 4, 5)), palette)
    unknown = painted.copy()
    unknown[1, 2, 3] = (9, 9, 9)
    return [Case("batch of 3 masks of 4x5, six colours", (painted, palette), None),
            Case("a pixel coloured (9, 9, 9), in no palette: ValueError", (unknown, palette), None)]


def check_colour_mask_to_labels(learner_function: Callable[[np.ndarray, object], np.ndarray],
                                cases: list[Case] | None = None) -> None:
    """Check a learner's ``colour_mask_to_labels(mask_rgb, palette)`` against the reference on several masks (or on
    ``cases``)."""
    verify("colour_mask_to_labels", learner_function, colour_mask_to_labels_cases() if cases is None else cases)
