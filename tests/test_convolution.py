"""NumPy convolution and transposed convolution, checked against Keras layers with the same weights."""

import itertools

import numpy as np
import pytest

from unet_lib import (
    conv2d,
    conv_matrix,
    conv_transpose2d,
    conv_transpose2d_naive,
    keras,
    keras_conv_transpose2d,
    overlap_count,
    resize_then_convolve,
)
from unet_lib.reference.convolution import transpose_geometry

RNG = np.random.default_rng(0)


def test_d2l_worked_example():
    x = np.array([[0.0, 1.0], [2.0, 3.0]])
    expected = [[0, 0, 1], [0, 4, 6], [4, 12, 9]]
    np.testing.assert_array_equal(conv_transpose2d_naive(x, x), expected)
    np.testing.assert_array_equal(conv_transpose2d(x, x), expected)


def test_padding_crops_from_the_start_and_same_from_the_end():
    x, kernel = np.array([[1.0, 2.0], [3.0, 4.0]]), np.arange(1.0, 10.0).reshape(3, 3)
    full = conv_transpose2d(x, kernel, stride=2)
    np.testing.assert_array_equal(conv_transpose2d(x, kernel, 2, 1, 1), full[1:5, 1:5])
    np.testing.assert_array_equal(conv_transpose2d(x, kernel, 2, "same"), full[0:4, 0:4])
    assert transpose_geometry((2, 2), (3, 3), 2, 1, 1) == ((4, 4), (1, 1), (2, 2))


@pytest.mark.parametrize("function", [conv_transpose2d, conv_transpose2d_naive])
def test_conv_transpose2d_matches_keras_on_a_grid(function):
    x = RNG.standard_normal((2, 3, 4, 2)).astype("float32")
    compared = 0
    for k, s in itertools.product((1, 2, 3, 4), (1, 2, 3)):
        kernel = RNG.standard_normal((k, k, 3, 2)).astype("float32")
        for padding, output_padding in itertools.product(("same", "valid", 0, 1), (None, *range(s))):
            try:
                expected = keras_conv_transpose2d(x, kernel, s, padding, output_padding)
            except ValueError:
                continue  # refused before Keras runs: covered by the bad-input tests
            got = function(x, kernel, s, padding, output_padding)
            assert got.shape == expected.shape and got.dtype == np.float32
            np.testing.assert_allclose(got, expected, atol=1e-5, err_msg=str((k, s, padding, output_padding)))
            compared += 1
    assert compared > 100


def test_keras_layer_itself_agrees_with_keras_conv_transpose2d():
    # keras_conv_transpose2d is the reference of the tests above: check it against a plain layer call.
    x = RNG.standard_normal((1, 3, 3, 2)).astype("float32")
    layer = keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same", use_bias=False)
    expected = keras.ops.convert_to_numpy(layer(x))
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    np.testing.assert_allclose(keras_conv_transpose2d(x, kernel, 2, "same"), expected, atol=1e-6)


def test_pairs_of_strides_paddings_and_output_paddings():
    x = RNG.standard_normal((2, 3, 4, 2)).astype("float32")
    kernel = RNG.standard_normal((3, 2, 3, 2)).astype("float32")
    expected = keras_conv_transpose2d(x, kernel, (2, 3), (1, 0), (1, 2))
    assert expected.shape == (2, 6, 13, 3)  # rows (3-1)*2 - 2 + 3 + 1, columns (4-1)*3 + 2 + 2
    np.testing.assert_allclose(conv_transpose2d(x, kernel, (2, 3), (1, 0), (1, 2)), expected, atol=1e-5)
    np.testing.assert_allclose(conv_transpose2d_naive(x, kernel, (2, 3), (1, 0), (1, 2)), expected, atol=1e-5)


def test_conv2d_matches_keras():
    x = RNG.standard_normal((2, 7, 6, 3)).astype("float32")
    for k, s, padding in itertools.product((1, 2, 3), (1, 2, 3), ("same", "valid")):
        layer = keras.layers.Conv2D(4, k, strides=s, padding=padding, use_bias=False)
        expected = keras.ops.convert_to_numpy(layer(x))
        np.testing.assert_allclose(conv2d(x, keras.ops.convert_to_numpy(layer.kernel), s, padding), expected,
                                   atol=1e-5)
    np.testing.assert_array_equal(conv2d(np.arange(9.0).reshape(3, 3), np.ones((2, 2)), padding=1).shape, (4, 4))


def test_matrix_view_and_adjoint():
    kernel = RNG.standard_normal((2, 3))
    for stride, padding in itertools.product((1, 2), (0, 1)):
        matrix = conv_matrix((5, 4), kernel, stride, padding)
        x = RNG.standard_normal((5, 4))
        y = conv2d(x, kernel, stride, padding)
        np.testing.assert_allclose(matrix @ x.ravel(), y.ravel())
        # The transpose maps back to the input size once output_padding restores what the stride floored.
        output_padding = tuple(x.shape[axis] - ((y.shape[axis] - 1) * stride - 2 * padding + kernel.shape[axis])
                               for axis in (0, 1))
        back = conv_transpose2d(y, kernel, stride, padding, output_padding)
        assert back.shape == x.shape
        np.testing.assert_allclose(matrix.T @ y.ravel(), back.ravel())
        probe = RNG.standard_normal(y.shape)  # adjoint: <conv(x), probe> == <x, conv_transpose(probe)>
        transposed_probe = conv_transpose2d(probe, kernel, stride, padding, output_padding)
        assert np.isclose(np.vdot(y, probe), np.vdot(x, transposed_probe))


def test_overlap_counts_and_resize_then_convolve():
    counts = overlap_count((6, 6), 3, stride=2, padding="same")
    assert counts.shape == (12, 12) and (counts[2:-2, 2:-2].min(), counts[2:-2, 2:-2].max()) == (1, 4)
    assert np.unique(overlap_count((6, 6), 2, stride=2)).tolist() == [1]
    constant = np.ones((1, 6, 6, 2))
    kernel = RNG.standard_normal((3, 3, 2, 1))
    upsampled = resize_then_convolve(constant, kernel, size=2)
    assert upsampled.shape == (1, 12, 12, 1)
    inside = upsampled[0, 1:-1, 1:-1, 0]
    np.testing.assert_allclose(inside, kernel.sum() * np.ones_like(inside))
    layer = keras.layers.UpSampling2D(2)
    np.testing.assert_allclose(resize_then_convolve(constant, kernel, 2),
                               conv2d(keras.ops.convert_to_numpy(layer(constant)), kernel, padding="same"))


def test_float32_stays_float32_and_integers_become_float64():
    x = np.ones((1, 2, 2, 1), np.float32)
    assert conv_transpose2d(x, np.ones((2, 2, 1, 1), np.float32), 2).dtype == np.float32
    assert conv_transpose2d(np.ones((2, 2), int), np.ones((2, 2), int)).dtype == np.float64


@pytest.mark.parametrize("function", [conv_transpose2d, conv_transpose2d_naive])
@pytest.mark.parametrize(
    ("x_shape", "kernel_shape", "arguments", "message"),
    [
        ((2, 2), (3, 3), {"stride": 0}, r"stride must be a positive integer, got 0"),
        ((2, 2), (3, 3), {"padding": -1}, r"padding must be an integer >= 0 or one of 'same', 'valid'"),
        ((2, 2), (3, 3), {"padding": "full"}, r"got 'full'"),
        ((2, 2), (3, 3), {"stride": 2, "output_padding": 2}, r"output_padding must be smaller than stride"),
        ((2, 2), (3, 3), {"stride": (2, 2, 2)}, r"stride must be an int or a \(rows, columns\) pair"),
        ((1, 2, 2, 3), (3, 3, 4, 2), {}, r"kernel must have C_in = 3 input channels"),
        ((2, 2, 3), (3, 3), {}, r"x and kernel must be \(H, W\) and \(kH, kW\), or \(N, H, W, C_in\)"),
        ((0, 2, 2, 1), (3, 3, 1, 1), {}, r"sizes must be >= 1"),
    ],
)
def test_conv_transpose2d_bad_input(function, x_shape, kernel_shape, arguments, message):
    with pytest.raises(ValueError, match=message):
        function(np.ones(x_shape), np.ones(kernel_shape), **arguments)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: conv2d(np.ones((2, 2)), np.ones((3, 3))), r"k: the kernel spans 3 pixels"),
        (lambda: conv2d(np.ones((1, 4, 4, 2)), np.ones((3, 3, 3, 1))), r"kernel must have C_in = 2"),
        (lambda: conv_matrix((4,), np.ones((2, 2))), r"input_shape must be \(H, W\)"),
        (lambda: conv_matrix((4, 4), np.ones((2, 2, 1, 1))), r"kernel must be a 2-D \(kH, kW\) array"),
        (lambda: overlap_count((4, 4), 0), r"kernel_size must be a positive integer"),
        (lambda: resize_then_convolve(np.ones((4, 4)), np.ones((3, 3)), size=0), r"size must be a positive integer"),
    ],
)
def test_other_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_self_checks_pass_the_reference_and_explain_a_wrong_answer():
    from unet_lib import CheckFailed, check_conv_transpose2d_naive, check_conv_transpose_output_size

    check_conv_transpose2d_naive(conv_transpose2d_naive)

    def without_output_padding(i, k, stride=1, padding=0, output_padding=None):
        return (i - 1) * stride - 2 * padding + k if isinstance(padding, int) else i * stride

    with pytest.raises(CheckFailed, match=r"output_padding 1' differs from the reference:\n"
                                          r"This is what leaving out output_padding gives.\nexpected 4, got 3"):
        check_conv_transpose_output_size(without_output_padding)

    def no_crop(x, kernel, stride=1, padding=0, output_padding=None):
        # A learner's loop that forgets to crop the padding (single-channel images only).
        x, kernel = np.asarray(x, dtype=float), np.asarray(kernel, dtype=float)
        full = np.zeros(((x.shape[0] - 1) * stride + kernel.shape[0], (x.shape[1] - 1) * stride + kernel.shape[1]))
        for row, column in np.ndindex(x.shape):
            full[row * stride:row * stride + kernel.shape[0], column * stride:column * stride + kernel.shape[1]] += \
                x[row, column] * kernel
        return full

    with pytest.raises(CheckFailed, match=r"expected shape \(4, 4\), got shape \(5, 5\)"):
        check_conv_transpose2d_naive(no_crop)
