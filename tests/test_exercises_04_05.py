"""The exercises added to lessons 06 and 07: binary_mask_to_labels, median_frequency_weights, stitch_tiles and
best_threshold. Each reference against an answer computed another way, a differently written answer passing its
self-check, each usual slip named, and an answer that calls the library failing."""

import itertools

import numpy as np
import pytest

from unet_lib import (
    CheckFailed,
    best_threshold,
    binary_mask_to_labels,
    check_best_threshold,
    check_binary_mask_to_labels,
    check_median_frequency_weights,
    check_stitch_tiles,
    median_frequency_weights,
    stitch_tiles,
)
from unet_lib.checks import practice
from unet_lib.checks.core import Raises, verify

EXERCISES = ["binary_mask_to_labels", "median_frequency_weights", "stitch_tiles", "best_threshold"]


# --- the references against answers computed another way ---

def test_binary_mask_to_labels_thresholds_at_half_white_and_refuses_what_is_not_black_and_white():
    jpeg_like = np.array([[0, 3, 250, 255, 255], [12, 0, 241, 127, 255], [40, 5, 255, 201, 0]], dtype=np.uint8)
    np.testing.assert_array_equal(binary_mask_to_labels(jpeg_like), [[0, 0, 1, 1, 1], [0, 0, 1, 0, 1],
                                                                      [0, 0, 1, 1, 0]])
    assert binary_mask_to_labels(jpeg_like).dtype == np.int32
    np.testing.assert_array_equal(binary_mask_to_labels(np.array([[0, 1]]), white=1), [[0, 1]])
    # Almost right: 0/1 masks read with the default white=255 are labels already, not all background.
    np.testing.assert_array_equal(binary_mask_to_labels(np.array([[0, 1], [1, 1]], dtype=np.uint8)), [[0, 1], [1, 1]])
    sixteen_bit = np.array([[[0, 65535], [60000, 100]]], dtype=np.uint16)
    np.testing.assert_array_equal(binary_mask_to_labels(sixteen_bit, white=65535), [[[0, 1], [1, 0]]])
    exactly_a_tenth_grey = np.zeros((10, 10), np.uint8)
    exactly_a_tenth_grey[0] = 128  # 10 of 100 pixels grey: still accepted
    assert binary_mask_to_labels(exactly_a_tenth_grey).sum() == 10
    with pytest.raises(ValueError, match=r"mask values must lie in \[0, 255\], got values from 0 to 300"):
        binary_mask_to_labels(np.array([[0, 300]]))
    one_more_grey = exactly_a_tenth_grey.copy()
    one_more_grey[1, 0] = 100
    with pytest.raises(ValueError, match="not a black-and-white mask: 11 of 100 pixels are grey"):
        binary_mask_to_labels(one_more_grey)
    with pytest.raises(ValueError, match="mask must hold numbers"):
        binary_mask_to_labels(np.array([["a"]]))
    with pytest.raises(ValueError, match="white must be a number > 0"):
        binary_mask_to_labels(np.zeros((2, 2)), white=0)


def test_median_frequency_weights_by_hand_and_against_a_loop():
    masks = np.array([[[0, 0], [0, 1]], [[0, 0], [2, 2]]])
    # Frequencies over the images where each class appears: 5/8, 1/4 (image 0 only), 2/4 (image 1 only);
    # their median is 1/2; class 3 is absent.
    np.testing.assert_allclose(median_frequency_weights(masks, 4), [0.8, 2, 1, 0], rtol=1e-6)
    assert median_frequency_weights(masks, 4).dtype == np.float32

    rng = np.random.default_rng(3)
    masks = rng.integers(0, 5, (6, 4, 5)) * (rng.random((6, 1, 1)) < 0.7)  # some images only background
    masks[masks == 3] = 4  # class 3 absent
    frequencies = {}
    for c in range(5):
        images_with_c = [m for m in masks if (m == c).any()]
        if images_with_c:
            frequencies[c] = sum((m == c).sum() for m in images_with_c) / sum(m.size for m in images_with_c)
    median = np.median(list(frequencies.values()))
    expected = [median / frequencies[c] if c in frequencies else 0.0 for c in range(5)]
    np.testing.assert_allclose(median_frequency_weights(masks, 5), expected, rtol=1e-6)
    for bad, message in [((masks, 4), r"labels in \[0, 4\)"), ((masks[0], 5), r"shape \(N, H, W\)"),
                         ((masks * 0.5, 5), "integer"), ((masks, 0), "n_classes must be a positive integer")]:
        with pytest.raises(ValueError, match=message):
            median_frequency_weights(*bad)


def test_stitch_tiles_averages_each_pixel_over_the_tiles_that_cover_it():
    tiles = np.array([np.full((2, 2, 1), 1.0), np.full((2, 2, 1), 3.0)])
    np.testing.assert_allclose(stitch_tiles(tiles, [(0, 0), (0, 1)], 2, 3)[..., 0], [[1, 2, 3], [1, 2, 3]])

    rng = np.random.default_rng(0)
    tiles = rng.normal(size=(5, 3, 4, 2)).astype(np.float32)
    corners = [(0, 0), (0, 2), (2, 0), (2, 2), (1, 1)]
    stitched = stitch_tiles(tiles, corners, 5, 6)
    assert stitched.shape == (5, 6, 2) and stitched.dtype == np.float32
    for y, x in itertools.product(range(5), range(6)):  # pixel by pixel: the tiles covering (y, x)
        covering = [tile[y - r, x - c] for tile, (r, c) in zip(tiles, corners, strict=True)
                    if 0 <= y - r < 3 and 0 <= x - c < 4]
        np.testing.assert_allclose(stitched[y, x], np.mean(covering, axis=0), rtol=1e-5)

    whole = rng.normal(size=(6, 8, 3))  # cut into overlapping tiles and stitched: the image comes back
    grid = [(r, c) for r in (0, 2) for c in (0, 2, 4)]
    np.testing.assert_allclose(stitch_tiles(np.stack([whole[r:r + 4, c:c + 4] for r, c in grid]), grid, 6, 8),
                               whole, rtol=1e-5)
    for bad, message in [((tiles[:, :, :, 0], corners, 5, 6), r"tiles must have shape \(N, h, w, C\)"),
                         ((tiles, corners[:4], 5, 6), "corners must hold one"),
                         ((tiles, [(0, 0), (0, 2), (2, 0), (2, 3), (1, 1)], 5, 6), "outside"),
                         ((tiles, [(0, 0), (0, 2), (2, 0), (-1, 2), (1, 1)], 5, 6), "outside"),
                         ((tiles[:2], corners[:2], 5, 6), "covered by no tile")]:
        with pytest.raises(ValueError, match=message):
            stitch_tiles(*bad)


def _foreground_iou(called, truth):
    return (called & truth).sum() / (called | truth).sum()


def test_best_threshold_maximises_the_foreground_iou_ties_to_the_smallest():
    rng = np.random.default_rng(1)
    truth = rng.random((3, 6, 6)) < 0.3
    probabilities = np.clip(0.35 * truth + rng.random((3, 6, 6)) * 0.65, 0, 1)
    thresholds = np.linspace(0.05, 0.95, 19)
    scores = [_foreground_iou(probabilities > t, truth) for t in thresholds]
    assert best_threshold(probabilities, truth.astype(int), thresholds) == thresholds[int(np.argmax(scores))]
    assert isinstance(best_threshold(probabilities, truth, thresholds), float)
    # No probability between 0.1 and 0.3: the same prediction, a tie, and the smaller threshold wins.
    assert best_threshold(np.array([0.05, 0.6, 0.9]), np.array([0, 1, 1]), [0.3, 0.5, 0.1]) == 0.1
    assert best_threshold(np.array([0.5, 0.7]), np.array([0, 1]), [0.5, 0.4]) == 0.5  # 0.5 is not above 0.5
    for bad, message in [((probabilities, truth[:2], thresholds), "same shape"),
                         ((probabilities, np.zeros_like(truth), thresholds), "at least one foreground"),
                         ((probabilities, truth * 2, thresholds), "only 0 and 1"),
                         ((probabilities, truth, []), "thresholds must"),
                         ((probabilities + 1, truth, thresholds), r"\[0, 1\]")]:
        with pytest.raises(ValueError, match=message):
            best_threshold(*bad)


# --- the self-checks ---

def other_binary_mask_to_labels(mask, white=255):
    mask = np.array(mask, dtype=float)
    if mask.min() < 0 or mask.max() > white:
        raise ValueError("out of range")
    if set(np.unique(mask)) <= {0.0, 1.0}:
        return mask.astype(int)
    if np.count_nonzero(np.abs(mask / white - 0.5) < 0.25) * 10 > mask.size:
        raise ValueError("grey")
    return np.where(2 * mask > white, 1, 0)


def other_median_frequency_weights(masks, n_classes):
    masks = np.asarray(masks)
    if masks.min() < 0 or masks.max() >= n_classes:
        raise ValueError("labels")
    counts = np.array([[np.sum(m == c) for c in range(n_classes)] for m in masks], dtype=float)  # (N, C)
    seen = (counts > 0) * masks[0].size
    present = counts.sum(0) > 0
    frequency = np.divide(counts.sum(0), seen.sum(0), out=np.zeros(n_classes), where=present)
    return np.where(present, np.median(frequency[present]) / np.where(present, frequency, 1), 0)


def other_stitch_tiles(tiles, corners, height, width):
    tiles = np.asarray(tiles, dtype=float)
    _, h, w, _ = tiles.shape
    total = np.zeros((height + h, width + w, tiles.shape[-1]))
    count = np.zeros((height + h, width + w, 1))
    for tile, (row, column) in zip(tiles, corners, strict=True):
        if row < 0 or column < 0 or row + h > height or column + w > width:
            raise ValueError("a tile outside")
        total[row:row + h, column:column + w] += tile
        count[row:row + h, column:column + w] += 1
    if (count[:height, :width] == 0).any():
        raise ValueError("uncovered")
    return total[:height, :width] / count[:height, :width]


def other_best_threshold(probabilities, truth, thresholds):
    probabilities, truth = np.asarray(probabilities), np.asarray(truth)
    if probabilities.shape != truth.shape or not truth.any() or len(thresholds) == 0:
        raise ValueError("bad input")
    best = None
    for threshold in sorted(thresholds):
        called = probabilities > threshold
        iou = np.sum(called & (truth == 1)) / np.sum(called | (truth == 1))
        if best is None or iou > best[0]:
            best = (iou, threshold)
    return best[1]


OTHER_ANSWERS = {"binary_mask_to_labels": other_binary_mask_to_labels,
                 "median_frequency_weights": other_median_frequency_weights,
                 "stitch_tiles": other_stitch_tiles, "best_threshold": other_best_threshold}
CHECKS = {"binary_mask_to_labels": check_binary_mask_to_labels,
          "median_frequency_weights": check_median_frequency_weights,
          "stitch_tiles": check_stitch_tiles, "best_threshold": check_best_threshold}
REFERENCES = {"binary_mask_to_labels": binary_mask_to_labels, "median_frequency_weights": median_frequency_weights,
              "stitch_tiles": stitch_tiles, "best_threshold": best_threshold}


def hidden_cases_answered(name):
    """The exercise's hidden cases with the reference's answers (or Raises), as a release records them."""
    cases = []
    for case in getattr(practice, f"{name}_hidden_cases")():
        try:
            expected = REFERENCES[name](*case.args, **case.kwargs)
        except ValueError:
            expected = Raises("ValueError")
        cases.append(practice.Case(case.label, case.args, expected, case.kwargs))
    return cases


@pytest.mark.parametrize("name", EXERCISES)
def test_a_differently_written_answer_passes_the_visible_and_hidden_cases(name, capsys):
    CHECKS[name](OTHER_ANSWERS[name])
    assert f"✓ {name}: all" in capsys.readouterr().out
    hidden = hidden_cases_answered(name)
    assert hidden and all(case.expected is None for case in getattr(practice, f"{name}_hidden_cases")())
    assert any(isinstance(case.expected, Raises) for case in hidden)
    CHECKS[name](OTHER_ANSWERS[name], cases=hidden)
    visible = {case.label for case in getattr(practice, f"{name}_cases")()}
    assert not visible & {case.label for case in hidden}, "hidden cases differ from the visible ones"


@pytest.mark.parametrize("name", EXERCISES)
def test_every_named_mistake_differs_from_the_answer_and_the_cases_are_plain_data(name):
    from course_tools import plain_data

    from unet_lib.checks.core import describe_difference

    cases = getattr(practice, f"{name}_cases")()
    named = set()
    for case in cases:
        plain_data.encode((case.args, case.kwargs, case.expected, case.mistakes))
        for mistake, answer in case.mistakes.items():
            assert describe_difference(answer, case.expected) is not None, (case.label, mistake)
            named.add(mistake)
    assert len(named) >= 3


def wrong_binary(rule):
    def answer(mask, white=255):
        mask = np.asarray(mask, dtype=float)
        return rule(mask, white).astype(np.int32)
    return answer


def wrong_median(frequencies, present_only=True, upside_down=False):
    def answer(masks, n_classes):
        masks = np.asarray(masks)
        counts = np.array([np.bincount(m.ravel(), minlength=n_classes) for m in masks], dtype=float)
        frequency = frequencies(counts, masks[0].size)
        present = counts.sum(0) > 0
        median = np.median(frequency[present] if present_only else frequency)
        with np.errstate(divide="ignore"):
            weights = frequency / median if upside_down else median / frequency
        return np.where(present, weights, 0.0)
    return answer


def by_presence(counts, image_size):
    return np.divide(counts.sum(0), (counts > 0).sum(0) * image_size, out=np.zeros(counts.shape[1]),
                     where=counts.sum(0) > 0)


def wrong_stitch(combine):
    def answer(tiles, corners, height, width):
        tiles = np.asarray(tiles, dtype=float)
        total, count = np.zeros((height, width, tiles.shape[-1])), np.zeros((height, width, 1))
        for tile, corner in zip(tiles, corners, strict=True):
            combine(total, count, tile, corner)
        return total / np.maximum(count, 1) if combine is not overwrite else total
    return answer


def add(total, count, tile, corner):
    (r, c), (h, w) = corner, tile.shape[:2]
    total[r:r + h, c:c + w] += tile
    count[r:r + h, c:c + w] += 1


def add_swapped(total, count, tile, corner):
    add(total, count, tile, corner[::-1])


def add_without_count(total, count, tile, corner):
    (r, c), (h, w) = corner, tile.shape[:2]
    total[r:r + h, c:c + w] += tile


def overwrite(total, count, tile, corner):
    (r, c), (h, w) = corner, tile.shape[:2]
    total[r:r + h, c:c + w] = tile


def divided_by_tile_count():
    def answer(tiles, corners, height, width):
        return wrong_stitch(add_without_count)(tiles, corners, height, width) / len(tiles)
    return answer


def wrong_threshold(score, at_or_above=False, largest_on_ties=False):
    def answer(probabilities, truth, thresholds):
        probabilities, truth = np.asarray(probabilities), np.asarray(truth).astype(bool)
        ordered = sorted(thresholds, reverse=largest_on_ties)
        scores = [score(probabilities >= t if at_or_above else probabilities > t, truth) for t in ordered]
        return float(ordered[int(np.argmax(scores))])
    return answer


def accuracy(called, truth):
    return (called == truth).mean()


def mean_of_both_ious(called, truth):
    return (_foreground_iou(called, truth) + _foreground_iou(~called, ~truth)) / 2


SLIPS = [
    (check_binary_mask_to_labels, wrong_binary(lambda m, white: m >= 128), "a threshold of 128 whatever white is"),
    (check_binary_mask_to_labels, wrong_binary(lambda m, white: m > m.max() / 2), "half the mask's own largest"),
    (check_binary_mask_to_labels, wrong_binary(lambda m, white: m <= white / 2), "labels inverted"),
    (check_median_frequency_weights, wrong_median(lambda counts, size: counts.sum(0) / counts.sum()),
     "the frequency over all pixels"),
    (check_median_frequency_weights, wrong_median(by_presence, present_only=False), "the median over all"),
    (check_median_frequency_weights, wrong_median(by_presence, upside_down=True), "upside down"),
    (check_stitch_tiles, wrong_stitch(add_without_count), "summing the tiles"),
    (check_stitch_tiles, wrong_stitch(overwrite), "the last tile overwrite"),
    (check_stitch_tiles, wrong_stitch(add_swapped), r"each corner as \(x, y\)"),
    (check_stitch_tiles, divided_by_tile_count(), "dividing by the number of tiles"),
    (check_best_threshold, wrong_threshold(accuracy), "pixel accuracy"),
    (check_best_threshold, wrong_threshold(_foreground_iou, at_or_above=True), ">= threshold"),
    (check_best_threshold, wrong_threshold(_foreground_iou, largest_on_ties=True), "ties going to the largest"),
    (check_best_threshold, wrong_threshold(mean_of_both_ious), "the mean IoU of background and foreground"),
]


@pytest.mark.parametrize(("check", "answer", "mistake"), SLIPS, ids=[slip[2] for slip in SLIPS])
def test_each_usual_slip_is_named(check, answer, mistake):
    with pytest.raises(CheckFailed, match=f"This is what [^\n]*{mistake}[^\n]* gives.\n"):
        check(answer)


@pytest.mark.parametrize("name", EXERCISES)
def test_an_answer_that_calls_the_library_fails(name):
    reference = REFERENCES[name]

    def answer(*args, **kwargs):
        return reference(*args, **kwargs)

    with pytest.raises(CheckFailed, match=f"calls the course library's unet_lib.reference.[a-z]+.{name}"):
        CHECKS[name](answer)


def test_an_answer_that_scores_with_the_library_metrics_fails():
    from unet_lib import iou_per_class

    def answer(probabilities, truth, thresholds):
        scores = [iou_per_class(np.asarray(truth), (np.asarray(probabilities) > t).astype(int), 2)[1]
                  for t in sorted(thresholds)]
        return float(sorted(thresholds)[int(np.argmax(scores))])

    with pytest.raises(CheckFailed, match="calls the course library's unet_lib.metrics.iou_per_class"):
        check_best_threshold(answer)


def test_the_checks_module_declares_the_four_exercises_for_lessons_04_and_05():
    assert {name: (entry["lessons"], entry["points"]) for name, entry in practice.GRADED.items()} == {
        "binary_mask_to_labels": (["06_your_own_data"], 1),
        "median_frequency_weights": (["06_your_own_data"], 1),
        "stitch_tiles": (["07_real_world"], 2),
        "best_threshold": (["07_real_world"], 2),
    }
    for name in EXERCISES:  # the visible cases come from the reference
        for case in getattr(practice, f"{name}_cases")():
            verify(name, REFERENCES[name], [case])
