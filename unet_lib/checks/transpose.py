"""Self-checks for lesson 01's exercises: the transposed-convolution output size and the loop version."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from unet_lib.checks.core import Case, verify
from unet_lib.reference.arithmetic import conv_transpose_output_size
from unet_lib.reference.convolution import conv_transpose2d_naive

# Each exercise, declared once (see unet_lib/checks/masks.py).
GRADED = {
    "conv_transpose_output_size": {"function": "unet_lib.reference.arithmetic.conv_transpose_output_size",
                                   "lessons": ["01_transpose_convolution"], "points": 1},
    "conv_transpose2d_naive": {"function": "unet_lib.reference.convolution.conv_transpose2d_naive",
                               "lessons": ["01_transpose_convolution"], "points": 2},
}


def conv_transpose_output_size_cases() -> list[Case]:
    """Sizes for explicit paddings (with output_padding) and for Keras's "same" / "valid" rules."""
    inputs = [
        ("2x2 input, 2x2 kernel, stride 1 (the first worked example)", (2, 2), {}),
        ("i=2, k=3, stride 2, padding 1: the plain formula", (2, 3), {"stride": 2, "padding": 1}),
        ("i=2, k=3, stride 2, padding 1, output_padding 1", (2, 3), {"stride": 2, "padding": 1, "output_padding": 1}),
        ("i=5, k=4, stride 3, padding 2", (5, 4), {"stride": 3, "padding": 2}),
        ("i=7, k=1, stride 2, padding 0", (7, 1), {"stride": 2}),
        ("i=4, k=3, stride 2, padding='same'", (4, 3), {"stride": 2, "padding": "same"}),
        ("i=4, k=3, stride 2, padding='same', output_padding 0", (4, 3),
         {"stride": 2, "padding": "same", "output_padding": 0}),
        ("i=3, k=2, stride 2, padding='valid'", (3, 2), {"stride": 2, "padding": "valid"}),
        ("i=3, k=2, stride 3, padding='valid' (kernel smaller than stride)", (3, 2), {"stride": 3, "padding": "valid"}),
        ("i=3, k=4, stride 2, padding='valid', output_padding 1", (3, 4),
         {"stride": 2, "padding": "valid", "output_padding": 1}),
    ]
    # The usual slips, here in the cases' body: a student copy replaces this body with the recorded answers, so
    # the slips' formulas (one term away from the answer) are not shown there.
    def output_size_mistakes(i: int, k: int, stride: int = 1, padding: int | str = 0,
                              output_padding: int | None = None) -> dict[str, int]:
        """What the usual slips give for one case: the convolution's formula run backwards without its terms."""
        extra = output_padding or 0
        mistakes = {"the convolution's formula (i - k + 2p) / s + 1, not the transposed one": (
            (i - k + 2 * (padding if isinstance(padding, int) else 0)) // stride + 1)}
        if isinstance(padding, int):
            mistakes["cropping the padding p once, not from both sides (2p)"] = (i - 1) * stride - padding + k + extra
            mistakes["an off-by-one: i * s instead of (i - 1) * s"] = i * stride - 2 * padding + k + extra
            if extra:
                mistakes["leaving out output_padding"] = (i - 1) * stride - 2 * padding + k
        elif padding == "same" and output_padding is not None:
            mistakes['i * s for "same" although output_padding is given'] = i * stride
        return mistakes

    return [Case(label, args, conv_transpose_output_size(*args, **kwargs), kwargs,
                 output_size_mistakes(*args, **kwargs)) for label, args, kwargs in inputs]


def conv_transpose_output_size_hidden_cases() -> list[Case]:
    """Graded but not shown: every size, kernel, stride, padding and output padding below, except those the reference
    refuses (explicit paddings that crop everything; "same" with an even kernel and no extra row, which TensorFlow
    refuses): checking arguments is not this exercise."""
    cases = []
    for i, k, stride, padding in itertools.product([1, 3, 7], [1, 2, 5], [1, 2, 4], [0, 1, "same", "valid"]):
        for output_padding in [None, *range(stride)]:
            if isinstance(padding, int) and (i - 1) * stride - 2 * padding + k + (output_padding or 0) < 1:
                continue
            if padding == "same" and output_padding is not None and k % 2 + output_padding == 0:
                continue
            cases.append(Case(f"i={i}, k={k}, stride={stride}, padding={padding!r}, output_padding={output_padding}",
                              (i, k, stride, padding, output_padding), None))
    return cases


def check_conv_transpose_output_size(learner_function: Callable[..., int], cases: list[Case] | None = None) -> None:
    """Check a learner's ``conv_transpose_output_size(i, k, stride, padding, output_padding)`` (on ``cases``, if
    given)."""
    verify("conv_transpose_output_size", learner_function,
           conv_transpose_output_size_cases() if cases is None else cases)


def conv_transpose2d_naive_cases() -> list[Case]:
    """Single-channel images and channels-last batches, with strides, paddings and output paddings."""
    rng = np.random.default_rng(1)
    small = np.array([[0.0, 1.0], [2.0, 3.0]])
    batch = rng.integers(-3, 4, size=(2, 3, 4, 2)).astype(float)
    inputs = [
        ("2x2 input, 2x2 kernel, stride 1", (small, small), {}),
        ("2x2 input, 3x3 kernel, stride 2, padding 1, output_padding 1",
         (small, np.arange(9.0).reshape(3, 3)), {"stride": 2, "padding": 1, "output_padding": 1}),
        ("3x4 input, 3x2 kernel, stride 3, padding 1, output_padding 2",
         (rng.integers(-2, 3, size=(3, 4)).astype(float), rng.integers(-2, 3, size=(3, 2)).astype(float)),
         {"stride": 3, "padding": 1, "output_padding": 2}),
        ("batch of 2, 3x4x2 -> 3 channels, 3x3 kernel, stride 2, padding 'same'",
         (batch, rng.integers(-2, 3, size=(3, 3, 3, 2)).astype(float)), {"stride": 2, "padding": "same"}),
        ("batch of 2, 3x4x2 -> 1 channel, 2x2 kernel, stride 2, padding 'valid'",
         (batch, rng.integers(-2, 3, size=(2, 2, 1, 2)).astype(float)), {"stride": 2, "padding": "valid"}),
    ]
    return [Case(label, args, conv_transpose2d_naive(*args, **kwargs), kwargs) for label, args, kwargs in inputs]


def conv_transpose2d_naive_hidden_cases() -> list[Case]:
    """Graded but not shown: stride 3 on a batch of 2 with 2 input and 3 output channels, every padding kind."""
    rng = np.random.default_rng(7)
    x, kernel = rng.normal(size=(2, 4, 5, 2)), rng.normal(size=(3, 2, 3, 2))
    return [Case(f"batch of 2, 4x5x2 -> 3 channels, 3x2 kernel, stride 3, padding={padding!r}, "
                 f"output_padding={output_padding}", (x, kernel, 3, padding, output_padding), None)
            for padding, output_padding in [(0, None), (1, None), ("same", None), ("valid", None), ("same", 2), (1, 1)]]


def check_conv_transpose2d_naive(learner_function: Callable[..., np.ndarray], cases: list[Case] | None = None) -> None:
    """Check a learner's loop ``conv_transpose2d_naive(x, kernel, stride, padding, output_padding)`` (on ``cases``,
    if given)."""
    verify("conv_transpose2d_naive", learner_function, conv_transpose2d_naive_cases() if cases is None else cases)
