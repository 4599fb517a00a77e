"""one_hot, the reference for lesson 00's exercise."""

import numpy as np
import pytest

from unet_lib import one_hot


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
