"""Convolution and transposed convolution in NumPy, laid out exactly like Keras's layers.

Inputs are a single-channel image ``x: (H, W)`` with a kernel ``(kH, kW)``, or a channels-last batch
``x: (N, H, W, C_in)`` with the kernel in Keras's layout, ``(kH, kW, C_in, C_out)`` for :func:`conv2d` and
``(kH, kW, C_out, C_in)`` for :func:`conv_transpose2d`, so weights copy straight from a Keras layer.

``stride``, ``padding`` and ``output_padding`` take an int or a ``(rows, columns)`` pair; ``padding`` also takes
``"same"`` / ``"valid"``. An int padding is explicit: zeros added to both sides of a convolution's input, or
cropped from both sides of a transposed convolution's output (Dumoulin & Visin's and PyTorch's convention).
"""

from __future__ import annotations

import numpy as np

from unet_lib._validate import check_positive_int
from unet_lib.reference.arithmetic import check_padding, conv_output_size, transpose_axis


def _pair(value, name: str) -> tuple:
    """``value`` for both axes, or a ``(rows, columns)`` pair as given."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a (rows, columns) pair, got {value!r}")
        return tuple(value)
    return (value, value)


def _as_batch(x, kernel, kernel_layout: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """Return ``x`` as ``(N, H, W, C_in)`` and the kernel as 4-D, plus whether to squeeze back to 2-D."""
    x = np.asarray(x)
    kernel = np.asarray(kernel)
    if x.ndim == 2 and kernel.ndim == 2:
        return x[None, :, :, None], kernel[:, :, None, None], True
    if x.ndim != 4 or kernel.ndim != 4:
        raise ValueError(
            f"x and kernel must be (H, W) and (kH, kW), or (N, H, W, C_in) and {kernel_layout}; "
            f"got x of shape {x.shape} and kernel of shape {kernel.shape}"
        )
    in_axis = 2 if kernel_layout.endswith("C_in, C_out)") else 3
    if kernel.shape[in_axis] != x.shape[3]:
        raise ValueError(
            f"kernel must have C_in = {x.shape[3]} input channels in its layout {kernel_layout} "
            f"(axis {in_axis}) to match x of shape {x.shape}; got kernel of shape {kernel.shape}"
        )
    if min(x.shape) < 1 or min(kernel.shape) < 1:
        raise ValueError(f"sizes must be >= 1, got x of shape {x.shape} and kernel of shape {kernel.shape}")
    return x, kernel, False


def _result_dtype(x: np.ndarray, kernel: np.ndarray):
    # float32 stays float32 (like Keras); integer inputs become float64 so worked examples stay exact.
    return np.result_type(x.dtype, kernel.dtype, np.float32)


def transpose_geometry(input_hw, kernel_hw, stride=1, padding=0, output_padding=None):
    """Validate the arguments of a 2-D transposed convolution and resolve them per axis.

    Args:
        input_hw: ``(H, W)`` of the input.
        kernel_hw: ``(kH, kW)`` of the kernel.
        stride, padding, output_padding: as in :func:`conv_transpose2d`.

    Returns:
        ``((H_out, W_out), (crop_top, crop_left), (stride_rows, stride_columns))``: the output size, the rows
        and columns cropped at the top and left of the full ``((H - 1) * s + kH, ...)`` output, the strides.

    Raises:
        ValueError: for strides or sizes < 1, a negative or unknown padding, or ``output_padding`` outside
            ``[0, stride)``.
    """
    strides = tuple(check_positive_int("stride", s) for s in _pair(stride, "stride"))
    paddings = tuple(check_padding(p) for p in _pair(padding, "padding"))
    output_paddings = _pair(output_padding, "output_padding")
    sizes, starts = [], []
    for axis in range(2):
        size, start = transpose_axis(
            input_hw[axis], kernel_hw[axis], strides[axis], paddings[axis], output_paddings[axis]
        )
        sizes.append(size)
        starts.append(start)
    return tuple(sizes), tuple(starts), strides


def _crop(full: np.ndarray, sizes, starts) -> np.ndarray:
    """Rows ``start : start + size`` (and the same for columns) of ``full: (N, H, W, C)``; zeros past its end."""
    out = np.zeros((full.shape[0], sizes[0], sizes[1], full.shape[3]), full.dtype)
    rows = min(sizes[0], full.shape[1] - starts[0])
    columns = min(sizes[1], full.shape[2] - starts[1])
    out[:, :rows, :columns] = full[:, starts[0]:starts[0] + rows, starts[1]:starts[1] + columns]
    return out


def conv_transpose2d_naive(x, kernel, stride=1, padding=0, output_padding=None) -> np.ndarray:
    """Transposed convolution with plain loops: every input pixel adds a scaled copy of the kernel.

    Reads like the definition and is slow; :func:`conv_transpose2d` gives the same numbers fast.

    Args:
        x: ``(H, W)``, or ``(N, H, W, C_in)``.
        kernel: ``(kH, kW)``, or ``(kH, kW, C_out, C_in)`` (Keras's ``Conv2DTranspose`` layout).
        stride: int or pair, >= 1.
        padding: int or pair >= 0 cropped from both sides of the full output, or ``"same"`` / ``"valid"``.
        output_padding: int or pair in ``[0, stride)`` added at the bottom/right; ``None`` is 0 for an int
            padding and Keras's default for ``"same"`` / ``"valid"``.

    Returns:
        ``(H_out, W_out)`` or ``(N, H_out, W_out, C_out)``, sizes from
        :func:`~unet_lib.reference.arithmetic.conv_transpose_output_size`.

    Raises:
        ValueError: for bad shapes, strides, paddings or output paddings (see :func:`transpose_geometry`).

    Example:
        >>> conv_transpose2d_naive(np.array([[0, 1], [2, 3]]), np.array([[0, 1], [2, 3]])).tolist()
        [[0.0, 0.0, 1.0], [0.0, 4.0, 6.0], [4.0, 12.0, 9.0]]
    """
    x, kernel, squeeze = _as_batch(x, kernel, "(kH, kW, C_out, C_in)")
    n, height, width, _ = x.shape
    k_rows, k_columns, c_out, _ = kernel.shape
    sizes, starts, (s_rows, s_columns) = transpose_geometry(
        (height, width), (k_rows, k_columns), stride, padding, output_padding
    )
    full = np.zeros((n, (height - 1) * s_rows + k_rows, (width - 1) * s_columns + k_columns, c_out),
                    _result_dtype(x, kernel))
    for b in range(n):
        for r in range(height):
            for c in range(width):
                # (kH, kW, C_out, C_in) @ (C_in,) -> (kH, kW, C_out): the kernel scaled by this pixel.
                full[b, r * s_rows:r * s_rows + k_rows, c * s_columns:c * s_columns + k_columns] += kernel @ x[b, r, c]
    out = _crop(full, sizes, starts)
    return out[0, :, :, 0] if squeeze else out


def _phase_taps(n_in: int, stride: int, k: int, start: int, size: int) -> list[tuple[slice, list]]:
    """Split one output axis into its ``stride`` phases, and say which kernel taps feed each.

    Output row ``y`` is full-output row ``y + start``, reached from input row ``r`` through tap ``t`` when
    ``r * stride + t == y + start``: rows ``phase, phase + stride, ...`` take the same taps, each from the input
    shifted by a fixed number of rows. Returns, per phase, its output rows (a slice of step ``stride``) and
    ``(tap, input_rows, phase_rows)`` for each tap that reaches it.
    """
    phases = []
    for phase in range(min(stride, size)):
        n_rows = len(range(phase, size, stride))
        feeds = []
        for tap in range(k):
            if (phase + start - tap) % stride:
                continue
            shift = (phase + start - tap) // stride  # input row = phase row + shift
            first, last = max(0, -shift), min(n_rows, n_in - shift)
            if first < last:
                feeds.append((tap, slice(first + shift, last + shift), slice(first, last)))
        phases.append((slice(phase, size, stride), feeds))
    return phases


def conv_transpose2d(x, kernel, stride=1, padding=0, output_padding=None) -> np.ndarray:
    """Transposed convolution, vectorised: one matrix product, then one strided copy or add per tap.

    Same arguments, results and errors as :func:`conv_transpose2d_naive`. ``(N*H*W, C_in) @ (C_in,
    kH*kW*C_out)`` gives every input pixel times every tap in one BLAS call. Output rows ``phase, phase +
    stride, ...`` (and columns) take the same taps from the input shifted by whole pixels, so each tap's slab
    lands in its phase with one strided copy or add; when the kernel equals the stride one reshape copy does.

    Args:
        x: ``(H, W)``, or ``(N, H, W, C_in)``.
        kernel: ``(kH, kW)``, or ``(kH, kW, C_out, C_in)``.
        stride: int or pair, >= 1.
        padding: int or pair >= 0, or ``"same"`` / ``"valid"``.
        output_padding: int or pair in ``[0, stride)``, or ``None``.

    Returns:
        ``(H_out, W_out)`` or ``(N, H_out, W_out, C_out)``; float32 for float32 inputs.

    Raises:
        ValueError: for bad shapes, strides, paddings or output paddings.

    Example:
        >>> conv_transpose2d(np.ones((2, 2)), np.ones((3, 3)), stride=2, padding=1, output_padding=1).tolist()
        [[1.0, 2.0, 1.0, 1.0], [2.0, 4.0, 2.0, 2.0], [1.0, 2.0, 1.0, 1.0], [1.0, 2.0, 1.0, 1.0]]
    """
    x, kernel, squeeze = _as_batch(x, kernel, "(kH, kW, C_out, C_in)")
    n, height, width, c_in = x.shape
    k_rows, k_columns, c_out, _ = kernel.shape
    sizes, starts, strides = transpose_geometry((height, width), (k_rows, k_columns), stride, padding, output_padding)
    dtype = _result_dtype(x, kernel)
    weights = kernel.transpose(3, 0, 1, 2).reshape(c_in, k_rows * k_columns * c_out).astype(dtype, copy=False)
    pixels = x.astype(dtype, copy=False)
    taps = (pixels.reshape(n * height * width, c_in) @ weights).reshape(n, height, width, k_rows, k_columns, c_out)
    out = np.empty((n, sizes[0], sizes[1], c_out), dtype)
    if (k_rows, k_columns) == strides and starts == (0, 0) and sizes == (height * k_rows, width * k_columns):
        # Each input pixel owns its own kH x kW block: interleave (H, kH) and (W, kW) in one copy.
        out.reshape(n, height, k_rows, width, k_columns, c_out)[...] = taps.transpose(0, 1, 3, 2, 4, 5)
        return out[0, :, :, 0] if squeeze else out
    phases = [
        (out_rows, out_columns, [(row, column) for row in row_feeds for column in column_feeds])
        for out_rows, row_feeds in _phase_taps(height, strides[0], k_rows, starts[0], sizes[0])
        for out_columns, column_feeds in _phase_taps(width, strides[1], k_columns, starts[1], sizes[1])
    ]
    for out_rows, out_columns, feeds in phases:
        phase = out[:, out_rows, out_columns]  # a view: writing it writes the output
        whole = ((slice(0, phase.shape[1]),) * 2, (slice(0, phase.shape[2]),) * 2)
        # A tap that covers the whole phase unshifted is copied first: cheaper than zeros + add.
        covering = [feed for feed in feeds if (feed[0][1:], feed[1][1:]) == whole]
        if covering:
            (tap_row, _, _), (tap_column, _, _) = covering[0]
            phase[...] = taps[:, :phase.shape[1], :phase.shape[2], tap_row, tap_column]
        else:
            phase[...] = 0
        for feed in feeds:
            if covering and feed == covering[0]:
                continue
            (tap_row, in_rows, rows), (tap_column, in_columns, columns) = feed
            phase[:, rows, columns] += taps[:, in_rows, in_columns, tap_row, tap_column]
    return out[0, :, :, 0] if squeeze else out


def keras_conv_transpose2d(x, kernel, stride=1, padding=0, output_padding=None) -> np.ndarray:
    """The same transposed convolution computed by a real ``keras.layers.Conv2DTranspose``.

    The reference the NumPy versions are checked against. Keras has only ``"same"`` and ``"valid"``; an int
    padding ``p`` is ``Conv2DTranspose(padding="valid", output_padding=a)`` then ``Cropping2D(p)``.

    Args:
        x, kernel, stride, padding, output_padding: as in :func:`conv_transpose2d` (``padding`` either a
            string or int(s), not a mix).

    Returns:
        Keras's output as a NumPy array, ``(H_out, W_out)`` or ``(N, H_out, W_out, C_out)``.

    Raises:
        ValueError: for bad shapes or settings (checked as in :func:`conv_transpose2d`).
    """
    from unet_lib._keras import keras

    x, kernel, squeeze = _as_batch(x, kernel, "(kH, kW, C_out, C_in)")
    k_rows, k_columns, c_out, _ = kernel.shape
    transpose_geometry(x.shape[1:3], (k_rows, k_columns), stride, padding, output_padding)  # validates
    crops = None
    if not isinstance(padding, str):
        crops = tuple((p, p) for p in _pair(padding, "padding"))
        # For an int padding None means 0, while Keras's "valid" would read None as its own default.
        padding, output_padding = "valid", _pair(0 if output_padding is None else output_padding, "output_padding")
    layer = keras.layers.Conv2DTranspose(c_out, (k_rows, k_columns), strides=stride, padding=padding,
                                         output_padding=output_padding, use_bias=False)
    layer.build(x.shape)
    layer.kernel.assign(kernel.astype("float32"))
    out = layer(x.astype("float32"))
    if crops is not None and any(any(pair) for pair in crops):
        out = keras.layers.Cropping2D(crops)(out)
    out = keras.ops.convert_to_numpy(out)
    return out[0, :, :, 0] if squeeze else out


def conv2d(x, kernel, stride=1, padding=0) -> np.ndarray:
    """Convolution (cross-correlation, as in every deep-learning framework) in NumPy.

    Args:
        x: ``(H, W)``, or ``(N, H, W, C_in)``.
        kernel: ``(kH, kW)``, or ``(kH, kW, C_in, C_out)`` (Keras's ``Conv2D`` layout).
        stride: int or pair, >= 1.
        padding: int or pair of zeros added on each side, or ``"valid"`` / ``"same"`` (``"same"`` puts the
            odd padding row at the bottom, like TensorFlow).

    Returns:
        ``(H_out, W_out)`` or ``(N, H_out, W_out, C_out)``, sizes from
        :func:`~unet_lib.reference.arithmetic.conv_output_size`.

    Raises:
        ValueError: for bad shapes, strides or paddings, or a kernel larger than the padded input.

    Example:
        >>> conv2d(np.arange(9).reshape(3, 3), np.ones((2, 2))).tolist()
        [[8.0, 12.0], [20.0, 24.0]]
    """
    x, kernel, squeeze = _as_batch(x, kernel, "(kH, kW, C_in, C_out)")
    n, height, width, c_in = x.shape
    k_rows, k_columns, _, c_out = kernel.shape
    strides = tuple(check_positive_int("stride", s) for s in _pair(stride, "stride"))
    paddings = _pair(padding, "padding")
    pads, sizes = [], []
    for size_in, k, s, p in zip((height, width), (k_rows, k_columns), strides, paddings, strict=True):
        size = conv_output_size(size_in, k, s, p)
        p = check_padding(p)
        before = {"valid": 0, "same": max((size - 1) * s + k - size_in, 0) // 2}.get(p, p)
        after = max((size - 1) * s + k - size_in - before, 0)
        pads.append((before, after))
        sizes.append(size)
    padded = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (k_rows, k_columns), axis=(1, 2))
    windows = windows[:, ::strides[0], ::strides[1]][:, :sizes[0], :sizes[1]]  # (N, H_out, W_out, C_in, kH, kW)
    out = np.tensordot(windows, kernel, axes=([3, 4, 5], [2, 0, 1])).astype(_result_dtype(x, kernel), copy=False)
    return out[0, :, :, 0] if squeeze else out


def conv_matrix(input_shape, kernel, stride=1, padding=0) -> np.ndarray:
    """The matrix ``C`` of a single-channel convolution: ``conv2d(x).ravel() == C @ x.ravel()``.

    Column ``j`` is the convolution of the image that is 1 at flat position ``j``, 0 elsewhere. ``C.T`` is
    then the transposed convolution with the same kernel (its adjoint).

    Args:
        input_shape: ``(H, W)`` of the input image.
        kernel: ``(kH, kW)``.
        stride, padding: as in :func:`conv2d`.

    Returns:
        ``(H_out * W_out, H * W)`` array.

    Raises:
        ValueError: for a non-positive input shape, a kernel that is not 2-D, or bad stride/padding.

    Example:
        >>> conv_matrix((3, 3), np.ones((2, 2))).shape
        (4, 9)
    """
    if len(tuple(input_shape)) != 2:
        raise ValueError(f"input_shape must be (H, W), got {input_shape!r}")
    height, width = (check_positive_int("input_shape", size) for size in input_shape)
    kernel = np.asarray(kernel)
    if kernel.ndim != 2:
        raise ValueError(f"kernel must be a 2-D (kH, kW) array, got shape {kernel.shape}")
    basis = np.eye(height * width).reshape(height * width, height, width, 1)
    responses = conv2d(basis, kernel[:, :, None, None], stride, padding)  # (H*W, H_out, W_out, 1)
    return responses.reshape(height * width, -1).T


def insert_zeros(x, stride) -> np.ndarray:
    """Put ``stride - 1`` zeros between neighbouring pixels (none after the last): a "fractionally strided" input.

    A transposed convolution with stride ``s`` (no padding) is the stride-1 convolution of this, padded with
    ``k - 1`` zeros on each side, with the kernel rotated 180 degrees (Dumoulin & Visin, section 4.5).

    Args:
        x: ``(H, W)``.
        stride: int >= 1.

    Returns:
        ``((H - 1) * stride + 1, (W - 1) * stride + 1)``, ``x[r, c]`` at ``(r * stride, c * stride)``, 0 elsewhere.

    Raises:
        ValueError: for an ``x`` that is not a non-empty 2-D array, or a stride < 1.

    Example:
        >>> insert_zeros(np.array([[1, 2], [3, 4]]), 2).tolist()
        [[1, 0, 2], [0, 0, 0], [3, 0, 4]]
    """
    x, stride = np.asarray(x), check_positive_int("stride", stride)
    if x.ndim != 2 or not x.size:
        raise ValueError(f"x must be a 2-D (H, W) array with pixels, got shape {x.shape}")
    out = np.zeros(((x.shape[0] - 1) * stride + 1, (x.shape[1] - 1) * stride + 1), x.dtype)
    out[::stride, ::stride] = x
    return out


def overlap_count(input_shape, kernel_size, stride=1, padding=0, output_padding=None) -> np.ndarray:
    """How many (input pixel, kernel tap) pairs write each output pixel of a transposed convolution.

    The transposed convolution of an all-ones image with an all-ones kernel. Uneven counts (kernel 3,
    stride 2 gives 1, 2 and 4) are the root of checkerboard artifacts.

    Args:
        input_shape: ``(H, W)``.
        kernel_size: int or ``(kH, kW)`` pair.
        stride, padding, output_padding: as in :func:`conv_transpose2d`.

    Returns:
        ``(H_out, W_out)`` int array.

    Example:
        >>> overlap_count((2, 2), 3, stride=2).tolist()
        [[1, 1, 2, 1, 1], [1, 1, 2, 1, 1], [2, 2, 4, 2, 2], [1, 1, 2, 1, 1], [1, 1, 2, 1, 1]]
    """
    kernel_hw = tuple(check_positive_int("kernel_size", k) for k in _pair(kernel_size, "kernel_size"))
    ones = np.ones(tuple(check_positive_int("input_shape", size) for size in input_shape))
    return np.rint(conv_transpose2d(ones, np.ones(kernel_hw), stride, padding, output_padding)).astype(int)


def resize_then_convolve(x, kernel, size=2, padding="same") -> np.ndarray:
    """Upsample by repeating pixels (nearest neighbour), then convolve: the checkerboard-free upsampler.

    Every output pixel sees the same number of kernel taps, so a constant image stays constant away from the
    border (Odena, Dumoulin & Olah, Distill 2016, https://distill.pub/2016/deconv-checkerboard/).

    Args:
        x: ``(H, W)``, or ``(N, H, W, C_in)``.
        kernel: ``(kH, kW)``, or ``(kH, kW, C_in, C_out)`` (a ``Conv2D`` kernel).
        size: upsampling factor, int or pair >= 1 (as in ``keras.layers.UpSampling2D``).
        padding: padding of the convolution, as in :func:`conv2d`.

    Returns:
        ``(H * size, W * size)`` (for ``"same"`` padding) or ``(N, ..., C_out)``.

    Raises:
        ValueError: for a bad ``size``, or bad shapes/padding (see :func:`conv2d`).
    """
    rows, columns = (check_positive_int("size", s) for s in _pair(size, "size"))
    x = np.asarray(x)
    row_axis = 0 if x.ndim == 2 else 1
    upsampled = np.repeat(np.repeat(x, rows, axis=row_axis), columns, axis=row_axis + 1)
    return conv2d(upsampled, kernel, stride=1, padding=padding)


__all__ = [
    "conv2d",
    "conv_matrix",
    "conv_transpose2d",
    "conv_transpose2d_naive",
    "insert_zeros",
    "keras_conv_transpose2d",
    "overlap_count",
    "resize_then_convolve",
    "transpose_geometry",
]
