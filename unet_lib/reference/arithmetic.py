"""Output sizes of convolution and transposed convolution, one spatial axis at a time.

Formulas of Dumoulin & Visin, "A guide to convolution arithmetic for deep learning" (2016,
https://arxiv.org/abs/1603.07285), plus Keras's rules for ``padding="same"`` / ``"valid"``:

* convolution: ``o = floor((i + 2p - K) / s) + 1`` with the dilated kernel ``K = d * (k - 1) + 1``;
* transposed convolution: ``o = (i - 1) * s - 2p + K + a``, where ``a`` (``output_padding``, ``0 <= a < s``)
  picks one of the ``s`` sizes that a stride-``s`` convolution maps to the same ``i``.
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
