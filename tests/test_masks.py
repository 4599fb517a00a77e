"""one_hot and colour_mask_to_labels, the references for the exercises of lessons 00 and 06."""

import numpy as np
import pytest

from unet_lib import CheckFailed, check_colour_mask_to_labels, colour_mask_to_labels, one_hot
from unet_lib.checks.masks import colour_mask_to_labels_cases


def test_one_hot_values_and_shape():
    mask = np.array([[0, 1, 1], [0, 2, 2]])
    encoded = one_hot(mask, 3)
    assert encoded.shape == (2, 3, 3) and encoded.dtype == np.float32
    np.testing.assert_array_equal(encoded.argmax(-1), mask)
    np.testing.assert_array_equal(encoded.sum(-1), np.ones((2, 3)))


@pytest.mark.parametrize(
    ("mask", "n_classes", "message"),
    [
        (np.array([[0, 3]]), 3, r"mask labels must lie in \[0, 3\), got values from 0 to 3"),
        (np.array([[-1, 0]]), 2, r"must lie in \[0, 2\)"),
        (np.array([[0.5]]), 2, "mask must hold integer class indices"),
        (np.array([[0]]), 0, "n_classes must be a positive integer"),
        (np.array([[0]]), 2.0, "n_classes must be a positive integer"),
    ],
)
def test_one_hot_bad_input(mask, n_classes, message):
    with pytest.raises(ValueError, match=message):
        one_hot(mask, n_classes)


PALETTE = [(0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255)]


def test_colour_mask_to_labels_round_trips_a_painted_mask():
    labels = np.random.default_rng(0).integers(0, 4, size=(5, 7))
    mask_rgb = np.array(PALETTE, dtype=np.uint8)[labels]
    converted = colour_mask_to_labels(mask_rgb, PALETTE)
    assert converted.dtype == np.int32 and converted.shape == (5, 7)
    np.testing.assert_array_equal(converted, labels)
    # A batch, a palette as an array in another order: class i is still palette[i].
    batch = np.stack([mask_rgb, mask_rgb[::-1]])
    reordered = np.array(PALETTE[::-1], dtype=np.uint8)
    np.testing.assert_array_equal(colour_mask_to_labels(batch, reordered), 3 - np.stack([labels, labels[::-1]]))


def test_colour_mask_to_labels_tells_colours_apart_by_every_channel():
    palette = [(0, 0, 1), (0, 1, 0), (1, 0, 0), (1, 1, 1), (200, 10, 0)]  # unused last entry
    mask_rgb = np.array([[[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]]], dtype=np.uint8)
    np.testing.assert_array_equal(colour_mask_to_labels(mask_rgb, palette), [[2, 1, 0, 3]])


def test_colour_mask_to_labels_names_the_first_unknown_pixel():
    mask_rgb = np.zeros((2, 3, 4, 3), dtype=np.uint8)
    mask_rgb[1, 2, 1] = (12, 34, 56)
    mask_rgb[1, 2, 3] = (255, 255, 255)
    with pytest.raises(ValueError, match=r"mask_rgb pixel \[1, 2, 1\] has colour \(12, 34, 56\), which is not in the "
                                         r"palette \(4 colours\); 2 of 24 pixels have colours outside it"):
        colour_mask_to_labels(mask_rgb, PALETTE)


@pytest.mark.parametrize(
    ("mask_rgb", "palette", "message"),
    [
        (np.zeros((2, 2), dtype=np.uint8), PALETTE, r"mask_rgb must have shape \(H, W, 3\) or \(N, H, W, 3\)"),
        (np.zeros((2, 2, 4), dtype=np.uint8), PALETTE, r"got shape \(2, 2, 4\)"),
        (np.zeros((2, 2, 3)), PALETTE, "mask_rgb must hold integer RGB values"),
        (np.full((1, 1, 3), 256), PALETTE, r"mask_rgb values must lie in \[0, 255\]"),
        (np.zeros((1, 1, 3), dtype=np.uint8), [], "palette must be a list of"),
        (np.zeros((1, 1, 3), dtype=np.uint8), [(0, 0)], "palette must be a list of"),
        (np.zeros((1, 1, 3), dtype=np.uint8), [(0, 0, 0), (1, 2)], "palette must be a list of"),
        (np.zeros((1, 1, 3), dtype=np.uint8), [(0, 0, 300)], "palette must be a list of"),
        (np.zeros((1, 1, 3), dtype=np.uint8), [(0.5, 0, 0)], "palette must be a list of"),
        (np.zeros((1, 1, 3), dtype=np.uint8), "red", "palette must be a list of"),
        (np.zeros((1, 1, 3), dtype=np.uint8), [(0, 0, 0), (5, 5, 5), (0, 0, 0)],
         r"\(0, 0, 0\) appears more than once"),
    ],
)
def test_colour_mask_to_labels_bad_input(mask_rgb, palette, message):
    with pytest.raises(ValueError, match=message):
        colour_mask_to_labels(mask_rgb, palette)


def test_check_colour_mask_to_labels_passes_the_reference(capsys):
    check_colour_mask_to_labels(colour_mask_to_labels)
    assert "all 5 cases match" in capsys.readouterr().out
    labels = [case.label for case in colour_mask_to_labels_cases()]
    assert any("batch" in label for label in labels) and any("unused" in label for label in labels)


def test_check_colour_mask_to_labels_explains_a_wrong_answer():
    def red_and_green_only(mask_rgb, palette):
        # Ignores the blue channel: (0, 0, 1) and (0, 0, 0)-like colours get mixed up.
        mask_rgb, palette = np.asarray(mask_rgb), np.asarray(palette)
        return (mask_rgb[..., None, :2] == palette[:, :2]).all(-1).argmax(-1)

    with pytest.raises(CheckFailed, match=r"case '.*' differs from the reference:\n\d+ of \d+ values differ; first at"):
        check_colour_mask_to_labels(red_and_green_only)
    with pytest.raises(CheckFailed, match=r"case '2x3 mask.*' differs from the reference:\n"
                                          r"expected shape \(2, 3\), got shape \(2, 3, 3\)"):
        check_colour_mask_to_labels(lambda mask_rgb, palette: np.asarray(mask_rgb))
