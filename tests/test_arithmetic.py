"""Output-size formulas of convolution and transposed convolution, checked against Keras."""

import itertools

import numpy as np
import pytest

from unet_lib import conv_output_size, conv_transpose_output_size, keras, transpose_axis


def test_worked_examples_of_the_course():
    assert conv_transpose_output_size(2, 2) == 3
    assert conv_transpose_output_size(2, 3, stride=2, padding=1) == 3  # the plain formula
    assert conv_transpose_output_size(2, 3, stride=2, padding=1, output_padding=1) == 4
    assert conv_transpose_output_size(2, 3, stride=2, padding="same") == 4
    assert transpose_axis(2, 3, stride=2, padding="same") == (4, 0)  # crops the last row, not the first
    assert transpose_axis(2, 3, stride=2, padding=1, output_padding=1) == (4, 1)


def test_output_padding_recovers_the_size_a_strided_convolution_lost():
    for i in range(1, 12):
        small = conv_output_size(i, 3, stride=2, padding=1)
        candidates = {conv_transpose_output_size(small, 3, 2, 1, a) for a in range(2)}
        assert i in candidates


def test_dilation_widens_the_kernel():
    assert conv_output_size(9, 3, dilation=2) == 5
    assert conv_transpose_output_size(5, 3, dilation=2) == 9
    assert conv_output_size(7, 3, stride=2, padding="same") == 4
    assert conv_output_size(7, 3, stride=2, padding="valid") == 3


def test_conv_output_size_matches_keras_conv2d():
    for i, k, s, d, padding in itertools.product((5, 8), (1, 3), (1, 2), (1, 2), ("same", "valid")):
        if s > 1 and d > 1:
            continue  # Keras's Conv2D does not combine them
        layer = keras.layers.Conv2D(1, k, strides=s, padding=padding, dilation_rate=d)
        assert layer(np.zeros((1, i, i, 1), "float32")).shape[1] == conv_output_size(i, k, s, padding, d)


def test_conv_transpose_output_size_matches_keras_conv2d_transpose():
    # Where the library refuses a setting, the reason is checked with formulas, not with TensorFlow:
    # whether TensorFlow raises or returns an empty tensor there depends on the CPU's oneDNN kernels.
    checked = refused = 0
    for i, k, s, padding in itertools.product((1, 3), (1, 2, 3, 4), (1, 2, 3), ("same", "valid")):
        for output_padding in (None, *range(s)):
            layer = keras.layers.Conv2DTranspose(1, k, strides=s, padding=padding, output_padding=output_padding)
            keras_rule = layer.compute_output_shape((1, i, i, 1))[1]
            if padding == "same" and output_padding == 0 and k % 2 == 0:
                # Keras's shape rule gives (i - 1) * s rows, which the mirrored "same" convolution
                # maps back to ceil((i - 1) * s / s) = i - 1 rows, not i: the setting has no consistent
                # output, so the library refuses it.
                assert keras_rule == (i - 1) * s and -(-keras_rule // s) != i
                with pytest.raises(ValueError, match="output_padding"):
                    conv_transpose_output_size(i, k, s, padding, output_padding)
                refused += 1
                continue
            ran = layer(np.zeros((1, i, i, 1), "float32")).shape[1]
            assert conv_transpose_output_size(i, k, s, padding, output_padding) == ran == keras_rule, (i, k, s, padding)
            checked += 1
    assert checked > 100 and refused == 2 * 2 * 3  # two i, two even k, three strides


def test_dilated_transpose_size_matches_keras_shape_rule():
    # TensorFlow's CPU kernels cannot run dilated transposed convolutions, so compare Keras's shape rule.
    for i, k, d, padding in itertools.product((2, 5), (2, 3), (2, 3), ("same", "valid")):
        layer = keras.layers.Conv2DTranspose(1, k, padding=padding, dilation_rate=d)
        assert layer.compute_output_shape((1, i, i, 1))[1] == conv_transpose_output_size(i, k, 1, padding, dilation=d)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"i": 0, "k": 3}, r"i must be a positive integer, got 0"),
        ({"i": 4, "k": 0}, r"k must be a positive integer"),
        ({"i": 4, "k": 3, "stride": 0}, r"stride must be a positive integer, got 0"),
        ({"i": 4, "k": 3, "padding": -1}, r"padding must be an integer >= 0 or one of 'same', 'valid', got -1"),
        ({"i": 4, "k": 3, "padding": "full"}, r"padding must be .* got 'full'"),
        ({"i": 4, "k": 3, "stride": 2, "output_padding": 2}, r"output_padding must be smaller than stride \(0 <="),
        ({"i": 4, "k": 3, "output_padding": -1}, r"output_padding must be an integer >= 0"),
        ({"i": 4, "k": 2, "stride": 2, "padding": "same", "output_padding": 0}, r"even kernel .* >= 1"),
        ({"i": 1, "k": 2, "padding": 1}, r"padding: cropping 1 from each side .* leaves nothing"),
        ({"i": 4, "k": 3, "dilation": 0}, r"dilation must be a positive integer"),
    ],
)
def test_conv_transpose_output_size_bad_input(arguments, message):
    with pytest.raises(ValueError, match=message):
        conv_transpose_output_size(**arguments)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"i": 2, "k": 3}, r"k: the kernel spans 3 pixels .* more than the padded input"),
        ({"i": 5, "k": 3, "dilation": 3}, r"spans 7 pixels"),
        ({"i": 5, "k": 3, "stride": -1}, r"stride must be a positive integer"),
        ({"i": 5.0, "k": 3}, r"i must be a positive integer, got 5.0"),
        ({"i": 5, "k": 3, "padding": True}, r"padding must be an integer >= 0"),
    ],
)
def test_conv_output_size_bad_input(arguments, message):
    with pytest.raises(ValueError, match=message):
        conv_output_size(**arguments)
