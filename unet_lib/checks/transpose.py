"""Self-checks for the transposed-convolution exercises: output size, loop version, the convolution's matrix and
zero insertion (lesson 02), and the predictions of lessons 00 and 01."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from unet_lib.checks.core import Case, verify
from unet_lib.reference.arithmetic import (
    conv_transpose_output_size,
    predicted_overlap_count,
    predicted_upsampled_pixels,
)
from unet_lib.reference.convolution import conv_matrix, conv_transpose2d_naive, insert_zeros

# Each exercise, declared once (see unet_lib/checks/masks.py).
GRADED = {
    "conv_transpose_output_size": {"function": "unet_lib.reference.arithmetic.conv_transpose_output_size",
                                   "lessons": ["01_transpose_convolution"], "points": 1},
    "conv_transpose2d_naive": {"function": "unet_lib.reference.convolution.conv_transpose2d_naive",
                               "lessons": ["01_transpose_convolution"], "points": 2},
    "conv_matrix": {"function": "unet_lib.reference.convolution.conv_matrix",
                    "lessons": ["02_transpose_convolution_as_a_matrix"], "points": 2},
    "insert_zeros": {"function": "unet_lib.reference.convolution.insert_zeros",
                     "lessons": ["02_transpose_convolution_as_a_matrix"], "points": 1},
    "predicted_overlap_count": {"function": "unet_lib.reference.arithmetic.predicted_overlap_count",
                                "lessons": ["01_transpose_convolution"], "points": 1},
    "predicted_upsampled_pixels": {"function": "unet_lib.reference.arithmetic.predicted_upsampled_pixels",
                                   "lessons": ["00_setup"], "points": 1},
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


def conv_matrix_cases() -> list[Case]:
    """Matrices of small convolutions, with strides and paddings, and what the usual slips give."""
    rng = np.random.default_rng(3)
    inputs = [
        ("3x3 input, 2x2 kernel, stride 1", ((3, 3), np.array([[1.0, 2.0], [3.0, 4.0]])), {}),
        ("4x4 input, 2x2 kernel, stride 2", ((4, 4), np.array([[1.0, 2.0], [3.0, 4.0]])), {"stride": 2}),
        ("3x4 input, 3x3 kernel, stride 1, padding 1", ((3, 4), np.arange(1.0, 10.0).reshape(3, 3)), {"padding": 1}),
        ("5x4 input, 3x2 kernel, stride 2, padding 1", ((5, 4), rng.integers(-3, 4, (3, 2)).astype(float)),
         {"stride": 2, "padding": 1}),
    ]

    # The usual slips, here in the cases' body (a student copy replaces it with the recorded answers).
    def conv_matrix_mistakes(shape, kernel, stride=1, padding=0) -> dict[str, np.ndarray]:
        right = conv_matrix(shape, kernel, stride, padding)
        mistakes = {"flipping the kernel (a true convolution; deep learning's does not flip it)":
                    conv_matrix(shape, np.flip(kernel), stride, padding),
                    "returning C transposed, shape (H * W, H_out * W_out), not (H_out * W_out, H * W)": right.T}
        padded = (shape[0] + 2 * padding, shape[1] + 2 * padding)
        if stride > 1:
            every = conv_matrix(shape, kernel, 1, padding).reshape(padded[0] - len(kernel) + 1, -1, right.shape[1])
            rows = (padded[0] - len(kernel)) // stride + 1
            mistakes["moving the window 1 pixel per output pixel, not stride pixels"] = (
                every[:rows, :len(right) // rows].reshape(right.shape))
        if padding:
            full = conv_matrix(padded, kernel, stride).reshape(-1, *padded)
            mistakes["not shifting the windows by the padding (row r's starts at r * stride - padding)"] = (
                full[:, :shape[0], :shape[1]].reshape(right.shape))
        return mistakes

    return [Case(label, args, conv_matrix(*args, **kwargs), kwargs, conv_matrix_mistakes(*args, **kwargs))
            for label, args, kwargs in inputs]


def conv_matrix_hidden_cases() -> list[Case]:
    """Graded but not shown: other shapes, kernels, strides and paddings."""
    rng = np.random.default_rng(8)
    settings = [((5, 3), (2, 3), 2, 1), ((4, 6), (3, 3), 3, 2), ((1, 1), (1, 1), 1, 0), ((6, 5), (4, 2), 1, 0)]
    return [Case(f"{h}x{w} input, {kh}x{kw} kernel, stride {stride}, padding {padding}",
                 ((h, w), rng.normal(size=(kh, kw)), stride, padding), None)
            for (h, w), (kh, kw), stride, padding in settings]


def check_conv_matrix(learner_function: Callable[..., np.ndarray], cases: list[Case] | None = None) -> None:
    """Check a learner's ``conv_matrix(input_shape, kernel, stride, padding)`` (on ``cases``, if given)."""
    verify("conv_matrix", learner_function, conv_matrix_cases() if cases is None else cases)


def insert_zeros_cases() -> list[Case]:
    """Images and strides, with what the usual slips give."""
    inputs = [("2x2 input, stride 2", np.array([[1, 2], [3, 4]]), 2),
              ("3x4 input, stride 3", np.arange(1.0, 13.0).reshape(3, 4), 3),
              ("2x3 input, stride 1: unchanged", np.array([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]]), 1),
              ("1x1 input, stride 4: one pixel, no neighbours", np.array([[7.0]]), 4)]

    def insert_zeros_mistakes(x, stride) -> dict[str, np.ndarray]:
        after_last = np.zeros((x.shape[0] * stride, x.shape[1] * stride))
        after_last[::stride, ::stride] = x
        repeated = np.repeat(np.repeat(x, stride, axis=0), stride, axis=1)
        mistakes = {"putting zeros after the last pixel too (an (H * stride, W * stride) result)": after_last,
                    "putting stride zeros between neighbours instead of stride - 1": insert_zeros(x, stride + 1),
                    "repeating each pixel instead of inserting zeros (nearest-neighbour upsampling)":
                        repeated[:(x.shape[0] - 1) * stride + 1, :(x.shape[1] - 1) * stride + 1]}
        return mistakes  # Case drops those that give the right answer (with stride 1 or one pixel, some do)

    return [Case(label, (x, stride), insert_zeros(x, stride), {}, insert_zeros_mistakes(x, stride))
            for label, x, stride in inputs]


def insert_zeros_hidden_cases() -> list[Case]:
    """Graded but not shown: a tall, a wide and a square input, strides 2 to 5."""
    rng = np.random.default_rng(9)
    return [Case(f"{h}x{w} input, stride {stride}", (rng.normal(size=(h, w)), stride), None)
            for h, w, stride in [(4, 2, 2), (1, 5, 3), (3, 3, 5)]]


def check_insert_zeros(learner_function: Callable[..., np.ndarray], cases: list[Case] | None = None) -> None:
    """Check a learner's ``insert_zeros(x, stride)`` (on ``cases``, if given)."""
    verify("insert_zeros", learner_function, insert_zeros_cases() if cases is None else cases)


def predicted_overlap_count_cases() -> list[Case]:
    """The question has no inputs: one case, the number, and the likely wrong guesses."""
    return [Case("the most-covered output pixel of a 3x3, stride-2 transposed convolution", (),
                 predicted_overlap_count(), {},
                 {"counting the kernel's 9 taps (not the copies that overlap)": 9,
                  "counting the copies along one axis only (they overlap along both)": 2})]


def predicted_overlap_count_hidden_cases() -> list[Case]:
    """Graded: the same call (a question without inputs has no other)."""
    return [Case("your prediction", (), None)]


def check_predicted_overlap_count(learner_function: Callable[[], int], cases: list[Case] | None = None) -> None:
    """Check a learner's ``predicted_overlap_count()`` (on ``cases``, if given)."""
    verify("predicted_overlap_count", learner_function, predicted_overlap_count_cases() if cases is None else cases)


def predicted_upsampled_pixels_cases() -> list[Case]:
    """The question has no inputs: one case, the number, and the likely wrong guesses."""
    return [Case("a 4x4 image upsampled with stride 3", (), predicted_upsampled_pixels(), {},
                 {"counting the pixels along one side (4 x 3) only": 12,
                  "multiplying the 16 input pixels by the stride once (it applies along both axes)": 48})]


def predicted_upsampled_pixels_hidden_cases() -> list[Case]:
    """Graded: the same call (a question without inputs has no other)."""
    return [Case("your prediction", (), None)]


def check_predicted_upsampled_pixels(learner_function: Callable[[], int], cases: list[Case] | None = None) -> None:
    """Check a learner's ``predicted_upsampled_pixels()`` (on ``cases``, if given)."""
    verify("predicted_upsampled_pixels", learner_function,
           predicted_upsampled_pixels_cases() if cases is None else cases)
