"""Self-checks for the label-mask exercises."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from unet_lib.checks.core import Case, verify
from unet_lib.masks import one_hot

# Exercise name -> the reference functions a learner writes for it (a student release removes their bodies).
GRADED = {"one_hot": ["unet_lib.masks.one_hot"]}


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


def check_one_hot(learner_one_hot: Callable[[np.ndarray, int], np.ndarray]) -> None:
    """Check a learner's ``one_hot(mask, n_classes)`` against the reference on several masks."""
    verify("one_hot", learner_one_hot, one_hot_cases())
