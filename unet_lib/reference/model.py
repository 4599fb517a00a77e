"""The U-Net, built from two small named blocks: an encoder ``conv_block`` and a decoder ``upsampling_block``.

With its defaults :func:`unet_model` is, layer for layer, the U-Net of the widely used MOOC assignment (96x128,
23 classes, 8,640,471 parameters), so a learner who knows it recognises every layer. Options go beyond it:
depth, batch normalisation, the upsampling mode (lesson 02's resize-convolution) and skip connections on or
off (lesson 03). Layers get stage names a learner can read aloud: ``encoder1_conv1``, ``decoder2_upsample``...
Architecture: Ronneberger et al., "U-Net", MICCAI 2015, https://arxiv.org/abs/1505.04597.
"""

from __future__ import annotations

from unet_lib._keras import keras
from unet_lib._validate import check_positive_int as _check_positive_int

UPSAMPLING_MODES = ("transpose", "resize")
"""``"transpose"``: a 3x3 stride-2 ``Conv2DTranspose``; ``"resize"``: ``UpSampling2D`` then a 3x3 convolution."""

INTERPOLATIONS = ("bilinear", "nearest")
"""How ``upsampling="resize"`` enlarges the feature map before its convolution."""


def _check_probability(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")


def _check_unet_options(input_size, n_filters, n_classes, depth, dropout_prob) -> None:
    """The checks of :func:`unet_model`'s options: ValueErrors that name the argument."""
    for option, value in (("n_filters", n_filters), ("n_classes", n_classes), ("depth", depth)):
        _check_positive_int(option, value)
    _check_probability("dropout_prob", dropout_prob)
    check_input_size(input_size, depth)


def check_input_size(input_size, depth=4) -> None:
    """Raise a ValueError that says what to do unless a U-Net of ``depth`` poolings can take ``input_size``.

    Each pooling halves height and width and each decoder step doubles them back to its skip's size exactly,
    so both must be multiples of ``2**depth`` (``None``, any size, is accepted).

    Args:
        input_size: ``(H, W, C)``.
        depth: number of 2x2 poolings.

    Raises:
        ValueError: on a malformed ``input_size``, or a side that is not a multiple of ``2**depth``; the
            message names the multiple and the nearest sizes that work.
    """
    if (
        not isinstance(input_size, (tuple, list))
        or len(input_size) != 3
        or any(not (side is None or (isinstance(side, int) and not isinstance(side, bool) and side > 0))
               for side in input_size)
        or input_size[2] is None
    ):
        raise ValueError(f"input_size must be (height, width, channels) of positive integers, got {input_size!r}")
    _check_positive_int("depth", depth)
    multiple = 2**depth
    height, width, _ = input_size
    wrong = [f"{side_name} {side}" for side_name, side in (("height", height), ("width", width))
             if side is not None and side % multiple]
    if wrong:
        suggestion = "x".join(str(_nearest_multiple(side, multiple)) for side in (height, width))
        raise ValueError(
            f"input_size {tuple(input_size)}: {' and '.join(wrong)} must be multiples of {multiple} "
            f"(2**depth with depth={depth}: each of the {depth} poolings halves the size, and the decoder "
            f"must double it back to the skip's size exactly); for example {suggestion}, or pad or crop your images"
        )


def _nearest_multiple(side: int | None, multiple: int) -> int | None:
    # The size to suggest in an error message: the closest positive multiple (None stays None).
    return None if side is None else max(multiple, round(side / multiple) * multiple)


def _layer_name(prefix: str | None, suffix: str) -> str | None:
    # Without a prefix Keras picks unique names itself (conv2d, conv2d_1, ...).
    return None if prefix is None else f"{prefix}_{suffix}"


def _conv3x3_relu(x, n_filters: int, batch_norm: bool, name: str | None):
    """A 3x3 "same" convolution with He-normal initialisation and ReLU, optionally batch-normalised.

    With batch normalisation: convolution without bias (the normalisation's shift replaces it), then
    ``BatchNormalization``, then ReLU; without, the convolution's own ReLU, as in the MOOC assignment.
    """
    if not batch_norm:
        return keras.layers.Conv2D(
            n_filters, 3, padding="same", activation="relu", kernel_initializer="he_normal", name=name
        )(x)
    x = keras.layers.Conv2D(
        n_filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal", name=name
    )(x)
    x = keras.layers.BatchNormalization(name=_layer_name(name, "bn"))(x)
    return keras.layers.Activation("relu", name=_layer_name(name, "relu"))(x)


def conv_block(inputs, n_filters=32, dropout_prob=0.0, max_pooling=True, batch_norm=False, *, name=None):
    """One encoder step: two 3x3 convolutions, optional dropout, optional 2x2 max pooling.

    Args:
        inputs: a Keras tensor of shape ``(N, H, W, C_in)``.
        n_filters: number of filters of both convolutions, ``C_out``.
        dropout_prob: dropout rate after the convolutions; 0 adds no ``Dropout`` layer.
        max_pooling: whether to halve height and width with 2x2 max pooling.
        batch_norm: whether to put ``BatchNormalization`` between each convolution and its ReLU.
        name: prefix for the layer names (``"encoder1"`` gives ``encoder1_conv1`` ...); ``None`` lets Keras
            name them.

    Returns:
        ``(next_layer, skip_connection)``: ``(N, H/2, W/2, C_out)`` (``(N, H, W, C_out)`` without pooling) for
        the next block, and the activation before pooling ``(N, H, W, C_out)``, which the decoder concatenates.

    Raises:
        ValueError: if ``n_filters`` is not a positive integer or ``dropout_prob`` not in [0, 1).

    Example:
        >>> next_layer, skip = conv_block(keras.Input((32, 32, 3)), n_filters=8)
        >>> tuple(next_layer.shape), tuple(skip.shape)
        ((None, 16, 16, 8), (None, 32, 32, 8))
    """
    _check_positive_int("n_filters", n_filters)
    _check_probability("dropout_prob", dropout_prob)
    x = _conv3x3_relu(inputs, n_filters, batch_norm, _layer_name(name, "conv1"))
    x = _conv3x3_relu(x, n_filters, batch_norm, _layer_name(name, "conv2"))
    if dropout_prob > 0:
        x = keras.layers.Dropout(dropout_prob, name=_layer_name(name, "dropout"))(x)
    skip_connection = x
    if max_pooling:
        x = keras.layers.MaxPooling2D(pool_size=(2, 2), name=_layer_name(name, "pool"))(x)
    return x, skip_connection


def upsampling_block(
    expansive_input,
    contractive_input,
    n_filters=32,
    upsampling="transpose",
    batch_norm=False,
    *,
    interpolation="bilinear",
    name=None,
):
    """One decoder step: double height and width, concatenate the skip, two 3x3 convolutions.

    Args:
        expansive_input: the decoder's tensor so far, shape ``(N, H, W, C)``.
        contractive_input: the encoder's skip connection ``(N, 2H, 2W, C_skip)``, or ``None`` for a decoder
            without skip connections.
        n_filters: filters of the upsampling and of both convolutions, ``C_out``.
        upsampling: ``"transpose"`` for a 3x3 stride-2 ``Conv2DTranspose`` (the MOOC's choice), ``"resize"``
            for ``UpSampling2D`` then a 3x3 convolution, which avoids lesson 02's checkerboard artefacts.
        batch_norm: whether the two convolutions are batch-normalised before their ReLU.
        interpolation: ``"bilinear"`` or ``"nearest"``, used only by ``upsampling="resize"``.
        name: prefix for the layer names (``"decoder1"`` gives ``decoder1_upsample`` ...).

    Returns:
        A tensor of shape ``(N, 2H, 2W, C_out)``.

    Raises:
        ValueError: for an unknown ``upsampling`` or ``interpolation``, a bad ``n_filters``, or a skip whose
            height and width are not twice those of ``expansive_input``.

    Example:
        >>> tuple(upsampling_block(keras.Input((16, 16, 16)), keras.Input((32, 32, 8)), n_filters=8).shape)
        (None, 32, 32, 8)
    """
    _check_positive_int("n_filters", n_filters)
    if upsampling not in UPSAMPLING_MODES:
        raise ValueError(f"upsampling must be one of {UPSAMPLING_MODES}, got {upsampling!r}")
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
    if upsampling == "transpose":
        x = keras.layers.Conv2DTranspose(
            n_filters, 3, strides=(2, 2), padding="same", name=_layer_name(name, "upsample")
        )(expansive_input)
    else:
        x = keras.layers.UpSampling2D(
            size=(2, 2), interpolation=interpolation, name=_layer_name(name, "upsample")
        )(expansive_input)
        x = keras.layers.Conv2D(n_filters, 3, padding="same", name=_layer_name(name, "upsample_conv"))(x)
    if contractive_input is not None:
        expected = tuple(x.shape[1:3])
        got = tuple(contractive_input.shape[1:3])
        if None not in expected + got and expected != got:
            raise ValueError(
                f"contractive_input must have height and width {expected} (twice those of expansive_input), "
                f"got {got}"
            )
        x = keras.layers.Concatenate(axis=-1, name=_layer_name(name, "concat"))([x, contractive_input])
    x = _conv3x3_relu(x, n_filters, batch_norm, _layer_name(name, "conv1"))
    return _conv3x3_relu(x, n_filters, batch_norm, _layer_name(name, "conv2"))


def unet_model(
    input_size=(96, 128, 3),
    n_filters=32,
    n_classes=23,
    depth=4,
    batch_norm=False,
    upsampling="transpose",
    skip_connections=True,
    dropout_prob=0.3,
    *,
    interpolation="bilinear",
    name="unet",
):
    """A U-Net that maps an image to one logit per class per pixel.

    The encoder has ``depth`` conv blocks with pooling, doubling the filters at each (``n_filters``,
    ``2 n_filters``, ...), then a bottleneck block of ``2**depth * n_filters`` filters; dropout follows the
    last encoder block and the bottleneck. The decoder has ``depth`` upsampling blocks, halving the filters,
    then a 3x3 ReLU convolution and a 1x1 convolution to ``n_classes`` logits (train with ``from_logits=True``).

    Args:
        input_size: ``(H, W, C_in)``; ``H`` and ``W`` multiples of ``2**depth``, or ``None`` for any such size.
        n_filters: filters of the first block, doubled at each level down.
        n_classes: number of classes, the channels of the output.
        depth: number of 2x2 poolings (and of upsampling blocks).
        batch_norm: batch-normalise every 3x3 convolution of the encoder and decoder.
        upsampling: ``"transpose"`` or ``"resize"``, see :func:`upsampling_block`.
        skip_connections: concatenate the encoder activations into the decoder; ``False`` gives a plain
            encoder-decoder (lesson 03 shows what that costs).
        dropout_prob: dropout rate in the last encoder block and the bottleneck.
        interpolation: ``"bilinear"`` or ``"nearest"`` for ``upsampling="resize"``.
        name: the model's name.

    Returns:
        A ``keras.Model`` from ``(N, H, W, C_in)`` images to ``(N, H, W, n_classes)`` logits.

    Raises:
        ValueError: for a malformed ``input_size``, ``H`` or ``W`` not a multiple of ``2**depth`` (naming the
            nearest sizes that work), or a bad value of any other option.

    Example:
        >>> unet_model().count_params()
        8640471
    """
    _check_unet_options(input_size, n_filters, n_classes, depth, dropout_prob)
    inputs = keras.Input(shape=tuple(input_size), name="image")
    x = inputs
    skips = []
    for level in range(1, depth + 1):
        x, skip = conv_block(
            x,
            n_filters * 2 ** (level - 1),
            dropout_prob=dropout_prob if level == depth else 0.0,
            batch_norm=batch_norm,
            name=f"encoder{level}",
        )
        skips.append(skip)
    x, _ = conv_block(
        x, n_filters * 2**depth, dropout_prob=dropout_prob, max_pooling=False, batch_norm=batch_norm, name="bottleneck"
    )
    for level in range(1, depth + 1):
        skip = skips[depth - level] if skip_connections else None
        x = upsampling_block(
            x,
            skip,
            n_filters * 2 ** (depth - level),
            upsampling=upsampling,
            batch_norm=batch_norm,
            interpolation=interpolation,
            name=f"decoder{level}",
        )
    x = _conv3x3_relu(x, n_filters, batch_norm, "head_conv")
    # Logits, not probabilities: the loss applies the softmax itself, which is numerically safer.
    logits = keras.layers.Conv2D(n_classes, 1, padding="same", name="logits", dtype="float32")(x)
    return keras.Model(inputs=inputs, outputs=logits, name=name)
