"""Lesson 02's NumPy exercises: crop_skip (the original U-Net's copy-and-crop) and iou_and_dice."""

from __future__ import annotations

import numpy as np
import pytest

from unet_lib.checks.core import CheckFailed, Raises, describe_difference
from unet_lib.checks.skips import (
    check_crop_skip,
    check_iou_and_dice,
    crop_skip_cases,
    crop_skip_hidden_cases,
    iou_and_dice_cases,
    iou_and_dice_hidden_cases,
)
from unet_lib.reference.skips import crop_skip, iou_and_dice

# crop_skip ------------------------------------------------------------------------------------------------------

def test_crop_skip_agrees_with_keras_cropping2d_for_even_and_odd_differences():
    from unet_lib import keras

    rng = np.random.default_rng(0)
    for shape, height, width in [((2, 7, 9, 3), 4, 6), ((1, 8, 8, 2), 5, 8), ((3, 5, 6, 1), 5, 1),
                                 ((1, 4, 4, 2), 4, 4)]:
        skip = rng.normal(size=shape).astype("float32")
        rows, columns = shape[1] - height, shape[2] - width
        cropping = ((rows // 2, rows - rows // 2), (columns // 2, columns - columns // 2))
        expected = keras.ops.convert_to_numpy(keras.layers.Cropping2D(cropping)(skip))
        np.testing.assert_array_equal(crop_skip(skip, height, width), expected)


def test_crop_skip_gives_the_papers_sizes_and_keeps_the_centre():
    # Ronneberger et al.: the 568x568 map of the top encoder level is cropped to 392x392; 64 -> 56 at the bottom.
    assert crop_skip(np.zeros((1, 568, 568, 2)), 392, 392).shape == (1, 392, 392, 2)
    skip = np.arange(64 * 64).reshape(1, 64, 64, 1)
    cropped = crop_skip(skip, 56, 56)
    assert cropped[0, 0, 0, 0] == skip[0, 4, 4, 0] and cropped[0, -1, -1, 0] == skip[0, 59, 59, 0]
    # An odd difference: the extra row and column come off the bottom and right.
    np.testing.assert_array_equal(crop_skip(np.arange(9).reshape(1, 3, 3, 1), 2, 2)[0, :, :, 0], [[0, 1], [3, 4]])


@pytest.mark.parametrize(("shape", "height", "width", "message"), [
    ((1, 4, 4, 2), 5, 4, "height must be at most"),
    ((1, 4, 4, 2), 4, 6, "width must be at most"),
    ((4, 4, 2), 2, 2, r"skip must be a channels-last batch \(N, H, W, C\)"),
    ((1, 4, 4, 2), 0, 2, "height must be a positive integer"),
    ((1, 4, 4, 2), 2, 2.5, "width must be a positive integer"),
])
def test_crop_skip_refuses_what_it_cannot_crop(shape, height, width, message):
    with pytest.raises(ValueError, match=message):
        crop_skip(np.zeros(shape), height, width)


def test_a_differently_written_crop_skip_passes():
    def crop_skip_by_index(skip, height, width):
        skip = np.asarray(skip)
        if skip.ndim != 4 or height > skip.shape[1] or width > skip.shape[2]:
            raise ValueError("cannot crop")
        rows = np.arange(height) + int(np.floor((skip.shape[1] - height) / 2))
        columns = np.arange(width) + int(np.floor((skip.shape[2] - width) / 2))
        return np.take(np.take(skip, rows, axis=1), columns, axis=2)

    check_crop_skip(crop_skip_by_index)
    check_crop_skip(crop_skip_by_index, crop_skip_hidden_cases_with_answers())


def crop_skip_hidden_cases_with_answers():
    return [case.__class__(case.label, case.args, _reference_outcome(crop_skip, case), case.kwargs)
            for case in crop_skip_hidden_cases()]


def _reference_outcome(function, case):
    try:
        return function(*case.args, **case.kwargs)
    except ValueError:
        return Raises("ValueError")


def _checked_with(check, answer, mistake):
    with pytest.raises(CheckFailed, match=f"This is what {mistake}.* gives.\n"):
        check(answer)


def test_each_crop_skip_mistake_is_named():
    def channels_first(skip, height, width):  # PyTorch's (N, C, H, W): crops width and channels
        skip = np.asarray(skip)
        if height > skip.shape[1] or width > skip.shape[2]:
            raise ValueError("too large")
        top, left = (skip.shape[2] - height) // 2, (skip.shape[3] - width) // 2
        return skip[:, :, top:top + height, left:left + width]

    def top_left(skip, height, width):
        if height > skip.shape[1] or width > skip.shape[2]:
            raise ValueError("too large")
        return skip[:, :height, :width]

    def odd_pixel_off_the_top(skip, height, width):
        if height > skip.shape[1] or width > skip.shape[2]:
            raise ValueError("too large")
        top, left = -(-(skip.shape[1] - height) // 2), -(-(skip.shape[2] - width) // 2)
        return skip[:, top:top + height, left:left + width]

    _checked_with(check_crop_skip, channels_first, "a PyTorch-style crop of axes 2 and 3")
    _checked_with(check_crop_skip, top_left, "cropping from the top-left corner")
    _checked_with(check_crop_skip, odd_pixel_off_the_top, "taking the odd row and column off the top and left")


# iou_and_dice ---------------------------------------------------------------------------------------------------

def _scores_from_sets(y_true, y_pred, n_classes):
    """IoU and Dice per class from the pixel sets themselves, |T & P| / |T | P| and 2 |T & P| / (|T| + |P|)."""
    iou, dice = np.full(n_classes, np.nan), np.full(n_classes, np.nan)
    for c in range(n_classes):
        true, predicted = y_true == c, y_pred == c
        if (true | predicted).any():
            iou[c] = (true & predicted).sum() / (true | predicted).sum()
            dice[c] = 2 * (true & predicted).sum() / (true.sum() + predicted.sum())
    return iou, dice


def test_iou_and_dice_are_those_of_the_pixel_sets_and_of_the_library():
    from unet_lib.metrics import confusion_matrix, dice_per_class, iou_per_class

    rng = np.random.default_rng(3)
    y_true, y_pred = rng.integers(0, 4, (2, 9, 7)), rng.integers(0, 4, (2, 9, 7))
    y_pred[y_pred == 3] = 0  # class 3 is true but never predicted
    y_true[y_true == 2], y_pred[y_pred == 2] = 1, 1  # class 2 is absent from both: NaN
    confusion = confusion_matrix(y_true, y_pred, 5)  # class 4 absent too
    iou, dice = iou_and_dice(confusion)
    expected_iou, expected_dice = _scores_from_sets(y_true, y_pred, 5)
    np.testing.assert_allclose(iou, expected_iou)
    np.testing.assert_allclose(dice, expected_dice)
    assert np.isnan(iou[[2, 4]]).all() and iou[3] == 0.0
    np.testing.assert_allclose(iou, iou_per_class(y_true, y_pred, 5))
    np.testing.assert_allclose(dice, dice_per_class(y_true, y_pred, 5))
    np.testing.assert_allclose(dice, 2 * iou / (1 + iou))
    # Weighted (float) counts work as well, and the worked example of the docstring.
    np.testing.assert_allclose(iou_and_dice(confusion * 0.5)[0], iou)
    np.testing.assert_allclose(iou_and_dice([[1, 0], [1, 1]]), [[0.5, 0.5], [2 / 3, 2 / 3]])


@pytest.mark.parametrize("confusion", [[[1, 2, 3]], np.zeros((2, 2, 2)), [[1, -1], [0, 2]], [[1.0, np.nan], [0, 1]],
                                       np.zeros((0, 0)), [["a", "b"], ["c", "d"]]])
def test_iou_and_dice_refuse_what_is_not_a_confusion_matrix(confusion):
    with pytest.raises(ValueError, match="confusion must be a square"):
        iou_and_dice(confusion)


def test_a_differently_written_iou_and_dice_passes():
    def iou_and_dice_by_class(confusion):
        confusion = np.array(confusion, dtype=float)
        if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1] or (confusion < 0).any():
            raise ValueError("not a confusion matrix")
        iou, dice = [], []
        for c in range(len(confusion)):
            hits = confusion[c, c]
            misses = confusion[c].sum() + confusion[:, c].sum() - 2 * hits
            iou.append(hits / (hits + misses) if hits + misses else float("nan"))
            dice.append(2 * hits / (2 * hits + misses) if hits + misses else float("nan"))
        return iou, dice

    check_iou_and_dice(iou_and_dice_by_class)
    hidden = [case.__class__(case.label, case.args, _reference_outcome(iou_and_dice, case), case.kwargs)
              for case in iou_and_dice_hidden_cases()]
    check_iou_and_dice(iou_and_dice_by_class, hidden)


def test_each_iou_and_dice_mistake_is_named():
    def with_union(union_of, dice_of=None):
        def answer(confusion):
            confusion = np.asarray(confusion, dtype=float)
            if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1] or (confusion < 0).any():
                raise ValueError("not a confusion matrix")
            hits, rows, columns = np.diag(confusion), confusion.sum(axis=1), confusion.sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                iou = hits / union_of(hits, rows, columns)
                return iou, (2 * hits / (rows + columns) if dice_of is None else dice_of(iou))
        return answer

    right = with_union(lambda hits, rows, columns: rows + columns - hits)
    _checked_with(check_iou_and_dice, with_union(lambda hits, rows, columns: columns), "IoU as precision")
    _checked_with(check_iou_and_dice, with_union(lambda hits, rows, columns: rows), "IoU as recall")
    _checked_with(check_iou_and_dice, with_union(lambda hits, rows, columns: rows + columns),
                  "a union of row sum plus column sum")
    _checked_with(check_iou_and_dice, with_union(lambda hits, rows, columns: rows + columns - hits,
                                                 lambda iou: iou / (1 + iou)), r"Dice = IoU / \(1 \+ IoU\)")

    def zero_for_absent(confusion):
        return tuple(np.nan_to_num(scores) for scores in right(confusion))

    _checked_with(check_iou_and_dice, zero_for_absent, "0 instead of NaN for a class absent")


# Both -----------------------------------------------------------------------------------------------------------

def test_an_answer_that_calls_the_library_fails():
    for check, reference, name in ((check_crop_skip, crop_skip, "crop_skip"),
                                   (check_iou_and_dice, iou_and_dice, "iou_and_dice")):
        with pytest.raises(CheckFailed, match=f"calls the course library's unet_lib.reference.skips.{name}"):
            check(lambda *args, reference=reference: reference(*args))


def test_the_cases_are_plain_data_the_hidden_ones_new_and_every_mistake_a_wrong_answer():
    from course_tools.plain_data import encode
    from course_tools.release import python_literal

    for cases, hidden, reference in ((crop_skip_cases(), crop_skip_hidden_cases(), crop_skip),
                                     (iou_and_dice_cases(), iou_and_dice_hidden_cases(), iou_and_dice)):
        labels = {case.label for case in cases}
        assert hidden and not labels & {case.label for case in hidden}
        for case in cases:
            encode((case.args, case.kwargs, case.expected, case.mistakes))
            for mistake, answer in case.mistakes.items():
                assert describe_difference(answer, case.expected) is not None, (case.label, mistake)
        for case in hidden:
            assert case.expected is None
            outcome = _reference_outcome(reference, case)
            # The nbgrader release writes each hidden answer as a Python literal: finite numbers only.
            if not isinstance(outcome, Raises):
                python_literal(np.asarray(outcome) if reference is crop_skip else tuple(outcome))
        assert any(case.mistakes for case in cases)
    # Every named slip of each exercise is named on some visible case.
    assert len({m for case in crop_skip_cases() for m in case.mistakes}) == 3
    assert len({m for case in iou_and_dice_cases() for m in case.mistakes}) == 5
