"""Lessons 00 and 01's exercises: conv_matrix, insert_zeros and the two predictions (predict, then reveal)."""

import dataclasses
import itertools
import math

import nbformat
import numpy as np
import pytest

import unet_lib
from unet_lib.checks import CheckFailed, describe_difference
from unet_lib.checks import transpose as checks
from unet_lib.reference.arithmetic import predicted_overlap_count, predicted_upsampled_pixels
from unet_lib.reference.convolution import conv2d, conv_matrix, conv_transpose2d, insert_zeros, overlap_count

EXERCISES = {  # exercise -> (check, reference)
    "conv_matrix": (checks.check_conv_matrix, conv_matrix),
    "insert_zeros": (checks.check_insert_zeros, insert_zeros),
    "predicted_overlap_count": (checks.check_predicted_overlap_count, predicted_overlap_count),
    "predicted_upsampled_pixels": (checks.check_predicted_upsampled_pixels, predicted_upsampled_pixels),
}


def answered(exercise):
    """The exercise's hidden cases with the reference's answers (as the grader records them)."""
    reference = EXERCISES[exercise][1]
    return [dataclasses.replace(case, expected=reference(*case.args, **case.kwargs))
            for case in getattr(checks, f"{exercise}_hidden_cases")()]


# Correct answers written differently from the reference (and from the lessons' solutions).
def conv_matrix_by_windows(input_shape, kernel, stride=1, padding=0):
    """Row by row: the zero-padded image's window of each output pixel holds the kernel, then the padding is cut."""
    height, width = input_shape
    kernel = np.asarray(kernel, dtype=float)
    k_rows, k_columns = kernel.shape
    padded = (height + 2 * padding, width + 2 * padding)
    rows = []
    for top in range(0, padded[0] - k_rows + 1, stride):
        for left in range(0, padded[1] - k_columns + 1, stride):
            window = np.zeros(padded)
            window[top:top + k_rows, left:left + k_columns] = kernel
            rows.append(window[padding:padding + height, padding:padding + width].ravel())
    return np.array(rows)


def insert_zeros_by_kron(x, stride):
    one_in_corner = np.zeros((stride, stride))
    one_in_corner[0, 0] = 1
    x = np.asarray(x)
    return np.kron(x, one_in_corner)[:(x.shape[0] - 1) * stride + 1, :(x.shape[1] - 1) * stride + 1]


CORRECT = {
    "conv_matrix": conv_matrix_by_windows,
    "insert_zeros": insert_zeros_by_kron,
    "predicted_overlap_count": lambda: 2 * 2,
    "predicted_upsampled_pixels": lambda: 12 ** 2,
}


def test_conv_matrix_reference_is_the_convolution_written_as_a_matrix():
    rng = np.random.default_rng(0)
    settings = [((3, 3), (2, 2), 1, 0), ((5, 4), (3, 2), 2, 1), ((4, 6), (3, 3), 3, 2)]
    for shape, kernel_shape, stride, padding in settings:
        kernel, x = rng.normal(size=kernel_shape), rng.normal(size=shape)
        matrix = conv_matrix(shape, kernel, stride, padding)
        np.testing.assert_allclose(matrix, conv_matrix_by_windows(shape, kernel, stride, padding))
        np.testing.assert_allclose(matrix @ x.ravel(), conv2d(x, kernel, stride, padding).ravel())
    # The 2x2 kernel on a 3x3 image, row 0: the kernel at the top-left window of the flattened image.
    assert conv_matrix((3, 3), [[1, 2], [3, 4]])[0].tolist() == [1, 2, 0, 3, 4, 0, 0, 0, 0]


def test_insert_zeros_reference():
    assert insert_zeros(np.array([[1, 2], [3, 4]]), 2).tolist() == [[1, 0, 2], [0, 0, 0], [3, 0, 4]]
    assert insert_zeros(np.ones((3, 5)), 3).shape == (7, 13)
    assert insert_zeros([[7.0]], 4).tolist() == [[7.0]]
    np.testing.assert_array_equal(insert_zeros(np.arange(6).reshape(2, 3), 1), np.arange(6).reshape(2, 3))
    # Dumoulin & Visin: a transposed convolution (no padding) is a convolution of the zero-inserted input, padded
    # with k - 1 zeros, with the kernel rotated 180 degrees.
    rng = np.random.default_rng(1)
    x, kernel = rng.normal(size=(3, 4)), rng.normal(size=(3, 2))
    for stride in (1, 2, 3):
        np.testing.assert_allclose(conv2d(insert_zeros(x, stride), np.rot90(kernel, 2), padding=(2, 1)),
                                   conv_transpose2d(x, kernel, stride), atol=1e-12)
    for bad, message in [(lambda: insert_zeros(np.ones(3), 2), r"x must be a 2-D \(H, W\) array"),
                         (lambda: insert_zeros(np.ones((2, 2)), 0), "stride must be a positive integer")]:
        with pytest.raises(ValueError, match=message):
            bad()


def test_the_predictions_are_computed_by_the_library():
    # Kernel 3, stride 2: ceil(3 / 2) = 2 copies overlap along each axis at the most-covered pixels.
    assert predicted_overlap_count() == math.ceil(3 / 2) ** 2 == overlap_count((9, 9), 3, stride=2).max() == 4
    # A 4x4 image upsampled with stride 3 ("same"): 12 x 12 pixels.
    assert predicted_upsampled_pixels() == (4 * 3) ** 2 == 144


@pytest.mark.parametrize("exercise", sorted(EXERCISES))
def test_a_differently_written_answer_passes_the_visible_and_hidden_cases(exercise, capsys):
    check = EXERCISES[exercise][0]
    check(CORRECT[exercise])
    check(CORRECT[exercise], cases=answered(exercise))
    assert capsys.readouterr().out.count("cases match the reference") == 2


@pytest.mark.parametrize("exercise", sorted(EXERCISES))
def test_cases_are_plain_and_the_hidden_ones_are_new(exercise):
    visible, hidden = getattr(checks, f"{exercise}_cases")(), getattr(checks, f"{exercise}_hidden_cases")()
    assert visible and hidden and all(case.expected is None for case in hidden)
    shown = {(case.label, repr(case.args), repr(case.kwargs)) for case in visible}
    if exercise.startswith("predicted_"):  # a question without inputs: the hidden case is the same call
        assert [(case.args, case.kwargs) for case in visible + hidden] == [((), {}), ((), {})]
    else:
        assert not shown & {(case.label, repr(case.args), repr(case.kwargs)) for case in hidden}
    for case in visible:
        assert case.mistakes, case.label
        for answer in case.mistakes.values():  # each slip gives an answer the check can tell from the right one
            assert describe_difference(answer, case.expected) is not None, case.label


def _flipped(function):
    return lambda shape, kernel, *args: function(shape, np.flip(np.asarray(kernel)), *args)


def _insert_zeros_after_last(x, stride):
    x = np.asarray(x)
    out = np.zeros((x.shape[0] * stride, x.shape[1] * stride))
    out[::stride, ::stride] = x
    return out


def _insert_stride_zeros(x, stride):
    return insert_zeros_by_kron(x, stride + 1)


def _repeat_pixels(x, stride):
    x = np.asarray(x)
    repeated = np.repeat(np.repeat(x, stride, axis=0), stride, axis=1)
    return repeated[:(x.shape[0] - 1) * stride + 1, :(x.shape[1] - 1) * stride + 1]


def _windows_one_pixel_apart(shape, kernel, stride=1, padding=0):
    every = conv_matrix_by_windows(shape, kernel, 1, padding)
    height, width = (size + 2 * padding - k for size, k in zip(shape, np.shape(kernel), strict=True))
    out_rows, out_columns = height // stride + 1, width // stride + 1
    return every.reshape(height + 1, width + 1, -1)[:out_rows, :out_columns].reshape(out_rows * out_columns, -1)


def _windows_not_shifted_by_padding(shape, kernel, stride=1, padding=0):
    padded = tuple(size + 2 * padding for size in shape)
    full = conv_matrix_by_windows(padded, kernel, stride, 0).reshape(-1, *padded)
    return full[:, :shape[0], :shape[1]].reshape(len(full), -1)


@pytest.mark.parametrize("exercise, slip, named", [
    ("conv_matrix", _flipped(conv_matrix_by_windows), "flipping the kernel"),
    ("conv_matrix", lambda *args: conv_matrix_by_windows(*args).T, "C transposed"),
    ("conv_matrix", _windows_one_pixel_apart, "moving the window 1 pixel"),
    ("conv_matrix", _windows_not_shifted_by_padding, "not shifting the windows by the padding"),
    ("insert_zeros", _insert_zeros_after_last, "zeros after the last pixel too"),
    ("insert_zeros", _insert_stride_zeros, "stride zeros between neighbours"),
    ("insert_zeros", _repeat_pixels, "repeating each pixel"),
    ("predicted_overlap_count", lambda: 9, "counting the kernel's 9 taps"),
    ("predicted_overlap_count", lambda: 2, "along one axis only"),
    ("predicted_upsampled_pixels", lambda: 12, "counting the pixels along one side"),
    ("predicted_upsampled_pixels", lambda: 48, "multiplying the 16 input pixels by the stride once"),
])
def test_each_usual_slip_is_named(exercise, slip, named):
    with pytest.raises(CheckFailed, match=f"This is what [^\n]*{named}[^\n]* gives."):
        EXERCISES[exercise][0](slip)


@pytest.mark.parametrize("exercise, answer, library_function", [
    ("conv_matrix", lambda shape, kernel, stride=1, padding=0: np.stack(
        [conv2d(basis.reshape(shape), kernel, stride, padding).ravel() for basis in np.eye(shape[0] * shape[1])],
        axis=1), "conv2d"),
    ("conv_matrix", lambda *args: unet_lib.conv_matrix(*args), "conv_matrix"),
    ("insert_zeros", lambda x, stride: unet_lib.insert_zeros(x, stride), "insert_zeros"),
    ("predicted_overlap_count", lambda: int(overlap_count((4, 4), 3, stride=2).max()), "overlap_count"),
    ("predicted_upsampled_pixels", lambda: predicted_upsampled_pixels(), "predicted_upsampled_pixels"),
])
def test_an_answer_the_library_computes_fails(exercise, answer, library_function):
    with pytest.raises(CheckFailed, match=f"calls the course library's [.a-z_]*{library_function}, which"):
        EXERCISES[exercise][0](answer)


LESSONS = {"00_setup": ["predicted_upsampled_pixels"],
           "01_transpose_convolution": ["predicted_overlap_count"],
           "02_transpose_convolution_as_a_matrix": ["conv_matrix", "insert_zeros"]}


@pytest.mark.parametrize("lesson, exercise", [(lesson, e) for lesson, names in LESSONS.items() for e in names])
def test_the_lessons_solution_passes_the_hidden_cases(repo_root, lesson, exercise, capsys):
    cells = nbformat.read(repo_root / "lessons" / f"{lesson}.ipynb", as_version=4).cells
    answers = [cell.source for cell in cells if cell.cell_type == "code" and f"def {exercise}(" in cell.source]
    assert len(answers) == 1 and "### BEGIN SOLUTION" in answers[0]
    namespace = {"np": np, "itertools": itertools}
    exec(answers[0], namespace)
    EXERCISES[exercise][0](namespace[exercise], cases=answered(exercise))
    assert "cases match the reference" in capsys.readouterr().out
