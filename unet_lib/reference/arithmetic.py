"""Output sizes of convolution and transposed convolution, one spatial axis at a time.

Formulas of Dumoulin & Visin, "A guide to convolution arithmetic for deep learning" (2016,
https://arxiv.org/abs/1603.07285), plus Keras's rules for ``padding="same"`` / ``"valid"``:

* convolution: ``o = floor((i + 2p - K) / s) + 1`` with the dilated kernel ``K = d * (k - 1) + 1``;
* transposed convolution: ``o = (i - 1) * s - 2p + K + a``, where ``a`` (``output_padding``, ``0 <= a < s``)
  picks one of the ``s`` sizes that a stride-``s`` convolution maps to the same ``i``.

Lesson 03 adds the receptive field of a stack of layers and the sizes of the unpadded U-Net (Ronneberger et al.).
"""

from __future__ import annotations

import numbers

from unet_lib._validate import check_positive_int

KERAS_PADDINGS = ("same", "valid")
"""The padding names Keras layers accept; an int means explicit padding on both sides."""


def _non_negative_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def check_padding(padding, name: str = "padding") -> int | str:
    """Return ``padding`` as a non-negative int or as ``"same"`` / ``"valid"`` (lower case).

    Raises:
        ValueError: for a negative or non-integer number, or an unknown padding name.
    """
    if isinstance(padding, str):
        if padding.lower() not in KERAS_PADDINGS:
            raise ValueError(f"{name} must be an integer >= 0 or one of 'same', 'valid', got {padding!r}")
        return padding.lower()
    if isinstance(padding, bool) or not isinstance(padding, numbers.Integral) or padding < 0:
        raise ValueError(f"{name} must be an integer >= 0 or one of 'same', 'valid', got {padding!r}")
    return int(padding)


def dilated_kernel_size(k: int, dilation: int = 1) -> int:
    """The span of a kernel of ``k`` taps spread ``dilation`` pixels apart: ``d * (k - 1) + 1``."""
    return check_positive_int("dilation", dilation) * (check_positive_int("k", k) - 1) + 1


def conv_output_size(i: int, k: int, stride: int = 1, padding: int | str = 0, dilation: int = 1) -> int:
    """Output size of a convolution along one axis.

    Args:
        i: input size, >= 1.
        k: kernel size, >= 1.
        stride: step between windows, >= 1.
        padding: zeros added on *each* side (int >= 0), or ``"valid"`` (none) or ``"same"`` (output
            ``ceil(i / stride)``).
        dilation: spacing between kernel taps, >= 1.

    Returns:
        ``floor((i + 2 * padding - K) / stride) + 1`` with ``K = dilation * (k - 1) + 1``.

    Raises:
        ValueError: for sizes, stride or dilation < 1, a bad padding, or a kernel larger than the padded input.

    Example:
        >>> conv_output_size(5, 3, stride=2, padding=1)
        3
    """
    i = check_positive_int("i", i)
    stride = check_positive_int("stride", stride)
    span = dilated_kernel_size(k, dilation)
    padding = check_padding(padding)
    if padding == "same":
        return -(-i // stride)
    if padding == "valid":
        padding = 0
    if i + 2 * padding < span:
        raise ValueError(
            f"k: the kernel spans {span} pixels (k={k}, dilation={dilation}), more than the padded input "
            f"i + 2 * padding = {i + 2 * padding}; use a kernel of at most that span"
        )
    return (i + 2 * padding - span) // stride + 1


def conv_transpose_output_size(
    i: int,
    k: int,
    stride: int = 1,
    padding: int | str = 0,
    output_padding: int | None = None,
    dilation: int = 1,
) -> int:
    """Output size of a transposed convolution along one axis.

    Args:
        i: input size, >= 1.
        k: kernel size, >= 1.
        stride: upsampling factor, >= 1.
        padding: an int >= 0 cropped from *both* sides of the full output (the paper's and PyTorch's
            convention), or Keras's ``"valid"`` / ``"same"``.
        output_padding: extra rows at the end, ``0 <= output_padding < stride``. ``None``: 0 for an int
            padding, Keras's default for ``"valid"`` (output ``(i - 1) * stride + max(K, stride)``) and
            ``"same"`` (output ``i * stride``).
        dilation: spacing between kernel taps, >= 1.

    Returns:
        ``(i - 1) * stride - 2 * padding + K + output_padding`` for an int padding, ``K = dilation * (k - 1)
        + 1``; for ``"same"`` with an ``output_padding``, Keras's ``(i - 1) * stride + K % 2 + output_padding``.

    Raises:
        ValueError: for sizes, stride or dilation < 1, a bad padding, ``output_padding`` outside
            ``[0, stride)``, or a padding that crops everything.

    Example:
        >>> conv_transpose_output_size(2, 3, stride=2, padding=1, output_padding=1)
        4
    """
    return transpose_axis(i, k, stride, padding, output_padding, dilation)[0]


def transpose_axis(
    i: int,
    k: int,
    stride: int = 1,
    padding: int | str = 0,
    output_padding: int | None = None,
    dilation: int = 1,
) -> tuple[int, int]:
    """Resolve one axis of a transposed convolution: its output size and where the output starts.

    Of the full output's ``(i - 1) * stride + K`` rows a layer keeps ``size`` from row ``start``, with zero
    rows past the end of the full output (what ``output_padding`` adds).

    Args:
        i, k, stride, padding, output_padding, dilation: as in :func:`conv_transpose_output_size`.

    Returns:
        ``(size, start)``; ``start`` is ``padding`` for an int padding, 0 for ``"valid"``, and for ``"same"``
        half the dropped rows, rounded down (TensorFlow mirrors a ``"same"`` convolution, which pads less
        before than after, so the odd row is dropped at the end).

    Raises:
        ValueError: as :func:`conv_transpose_output_size`.

    Example:
        >>> transpose_axis(2, 3, stride=2, padding="same")  # keeps rows 0..3 of 5
        (4, 0)
    """
    i = check_positive_int("i", i)
    stride = check_positive_int("stride", stride)
    span = dilated_kernel_size(k, dilation)
    padding = check_padding(padding)
    if output_padding is not None:
        output_padding = _non_negative_int(output_padding, "output_padding")
        if output_padding >= stride:
            raise ValueError(
                f"output_padding must be smaller than stride (0 <= output_padding < {stride}), got {output_padding}"
            )
    full = (i - 1) * stride + span
    if padding == "same":
        if output_padding is None:
            size = i * stride
        elif span % 2 + output_padding == 0:
            # "same" mirrors a "same" convolution, which maps o pixels to ceil(o / stride) pixels;
            # o = (i - 1) * stride would map back to i - 1, not i, so TensorFlow rejects it.
            raise ValueError(
                f"output_padding: with padding='same' and an even kernel (k={k}, dilation={dilation}) "
                f"output_padding must be >= 1 (allowed: 1 <= output_padding < {stride}), or None; got 0"
            )
        else:
            size = (i - 1) * stride + span % 2 + output_padding
        return size, max(full - size, 0) // 2
    if padding == "valid":
        if output_padding is None:
            output_padding = max(span, stride) - span
        return full + output_padding, 0
    size = full - 2 * padding + (output_padding or 0)
    if size < 1:
        raise ValueError(
            f"padding: cropping {padding} from each side of a {full}-pixel output leaves "
            f"nothing; use padding <= {(full - 1) // 2}"
        )
    return size, padding


def receptive_field(layers) -> int:
    """The receptive field along one axis: how many input pixels one output pixel of a stack of layers sees.

    Args:
        layers: the stack, input first, as ``(kernel_size, stride)`` pairs of positive ints along the axis:
            ``(3, 1)`` for a 3x3 convolution, ``(2, 2)`` for a 2x2 max pooling.

    Returns:
        ``1 + sum_l (k_l - 1) * s_1 * ... * s_(l-1)``: a layer widens the field by ``k - 1`` pixels of the grid it
        reads, whose pixels lie the product of the earlier strides apart in the input.

    Raises:
        ValueError: if a layer is not a pair of positive ints.

    Example:
        >>> receptive_field([(3, 1), (3, 1), (2, 2), (3, 1)])  # two convolutions, a pooling, a convolution
        10
    """
    field, jump = 1, 1
    for position, layer in enumerate(layers):
        if not isinstance(layer, (tuple, list)) or len(layer) != 2:
            raise ValueError(f"layers[{position}] must be a (kernel_size, stride) pair, got {layer!r}")
        field += (check_positive_int(f"layers[{position}] kernel_size", layer[0]) - 1) * jump
        jump *= check_positive_int(f"layers[{position}] stride", layer[1])
    return field


def unpadded_unet_sizes(input_size: int, depth: int = 4) -> list[int]:
    """Feature-map sizes along one axis of Ronneberger et al.'s U-Net, whose 3x3 convolutions do not pad.

    Each level has two 3x3 "valid" convolutions (each takes 2 pixels off); the encoder's then pool 2x2 (halving an
    even size), the decoder's follow a 2x2 up-convolution (doubling). The bottleneck has two convolutions too.

    Args:
        input_size: the input's height (or width), >= 1.
        depth: the number of poolings, >= 1.

    Returns:
        ``2 * depth + 1`` sizes: after each encoder level's convolutions (the skips, before pooling), after the
        bottleneck's, after each decoder level's; the last is the output's, e.g. ``572`` with depth 4 gives
        ``[568, 280, 136, 64, 28, 52, 100, 196, 388]``.

    Raises:
        ValueError: for a size or depth < 1, an odd size at a pooling, or a convolution on fewer than 3 pixels.
    """
    size, depth, sizes = check_positive_int("input_size", input_size), check_positive_int("depth", depth), []
    for level in range(2 * depth + 1):
        if level > depth:
            size *= 2  # the up-convolution
        stage = f"encoder level {level + 1}" if level < depth else (
            "the bottleneck" if level == depth else f"decoder level {level - depth}")
        if size < 5:
            raise ValueError(f"input_size: {stage}'s two 3x3 'valid' convolutions need at least 3 pixels each, 5 "
                             f"before the first; input_size={input_size} leaves {size} (try a larger input_size)")
        sizes.append(size - 4)
        if level < depth:
            if sizes[-1] % 2:
                raise ValueError(f"input_size: 2x2 max pooling needs an even size; input_size={input_size} leaves "
                                 f"{sizes[-1]} (odd) for {stage}'s pooling")
            size = sizes[-1] // 2
        else:
            size = sizes[-1]
    return sizes


def predicted_upsampled_pixels() -> int:
    """Lesson 00's prediction: how many pixels a 4x4 image has, upsampled with stride 3 (Keras's ``"same"``).

    Returns:
        The output's height times its width, from :func:`conv_transpose_output_size`.
    """
    return conv_transpose_output_size(4, 3, stride=3, padding="same") ** 2


def predicted_overlap_count() -> int:
    """Lesson 01's prediction: how many kernel copies add up at the most-covered output pixel of a 3x3, stride-2
    transposed convolution.

    Returns:
        The largest count of :func:`~unet_lib.reference.convolution.overlap_count` for that setting.
    """
    from unet_lib.reference.convolution import overlap_count  # here: that module imports this one

    return int(overlap_count((4, 4), 3, stride=2).max())
