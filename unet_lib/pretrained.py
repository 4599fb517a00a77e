"""A U-Net whose encoder is a pretrained classifier: MobileNetV2 from ``keras.applications``.

With few labelled images, an encoder that knows edges, textures and object parts from ImageNet learns a
segmentation much sooner than a random one. As in TensorFlow's segmentation tutorial
(https://www.tensorflow.org/tutorials/images/segmentation), five MobileNetV2 layers (:data:`SKIP_LAYERS`, 1/2
to 1/32 of the input's size) feed a U-Net decoder, and the encoder starts frozen, so a random decoder's large
gradients do not wreck its features (:func:`set_encoder_trainable` unfreezes it for fine-tuning).

MobileNetV2 expects pixels in ``[-1, 1]`` (``preprocess_input``); the model starts with that scaling
(:data:`PREPROCESS_LAYER`), so feed it ``[0, 1]`` images as in the rest of the course.
"""

from __future__ import annotations

import warnings

import numpy as np

from unet_lib._keras import keras
from unet_lib._validate import check_positive_int as _check_positive_int

SKIP_LAYERS = ("block_1_expand_relu", "block_3_expand_relu", "block_6_expand_relu", "block_13_expand_relu",
               "block_16_project")
"""MobileNetV2 layers whose outputs feed the decoder, at strides 2, 4, 8, 16 and 32 (the last is the bottleneck)."""

ENCODER_NAME = "encoder"
"""Name of the nested MobileNetV2 sub-model in a :func:`mobilenet_unet`; ``model.get_layer(ENCODER_NAME)``."""

PREPROCESS_LAYER = "preprocess_to_minus1_1"
"""Name of the first layer of a :func:`mobilenet_unet`: ``[0, 1]`` pixels to MobileNetV2's ``[-1, 1]``."""

SIZE_MULTIPLE = 32
"""A side of a :func:`mobilenet_unet` input must be a multiple of this: MobileNetV2 halves the size 5 times."""


def _validated_input_size(input_size) -> tuple:
    try:
        height, width, channels = input_size
    except (TypeError, ValueError):
        raise ValueError(f"input_size must be (height, width, 3), got {input_size!r}") from None
    if channels != 3:
        raise ValueError(f"input_size must have 3 channels (RGB, as MobileNetV2 was trained on), got {input_size!r}")
    for name, side in (("height", height), ("width", width)):
        if side is None:
            continue  # any size at call time, as for the course's U-Net
        if isinstance(side, bool) or not isinstance(side, (int, np.integer)) or side < SIZE_MULTIPLE \
                or side % SIZE_MULTIPLE:
            raise ValueError(f"input_size {name} must be a multiple of {SIZE_MULTIPLE} (MobileNetV2 halves it 5 "
                             f"times) or None, got {side!r} in {input_size!r}")
    return height, width, 3


def _decoder_step(x, skip, n_filters: int, name: str):
    """Upsample (N, H, W, C) to (N, 2H, 2W, n_filters), join the skip (N, 2H, 2W, C_skip), convolve twice."""
    x = keras.layers.Conv2DTranspose(n_filters, 3, strides=2, padding="same", name=f"{name}_up")(x)
    x = keras.layers.Concatenate(name=f"{name}_concat")([x, skip])
    for index in (1, 2):
        # No bias before batch normalisation: its shift replaces it.
        x = keras.layers.Conv2D(n_filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal",
                                name=f"{name}_conv{index}")(x)
        x = keras.layers.BatchNormalization(name=f"{name}_bn{index}")(x)
        x = keras.layers.Activation("relu", name=f"{name}_relu{index}")(x)
    return x


def mobilenet_unet(input_size=(128, 128, 3), n_classes: int = 3, weights=None, alpha: float = 1.0,
                   decoder_filters=(256, 128, 64, 32)):
    """A U-Net decoder on a MobileNetV2 encoder, the encoder frozen (see the module docstring).

    Args:
        input_size: ``(H, W, 3)``; ``H`` and ``W`` multiples of 32, or ``None`` for any such size.
        n_classes: channels of the logits (1 for a sigmoid binary model).
        weights: ``None`` (random encoder, no download), ``"imagenet"`` (downloaded once to
            ``~/.keras/models``), or a weights file's path, as ``keras.applications.MobileNetV2`` takes.
        alpha: MobileNetV2's width multiplier (ImageNet weights exist for 0.35, 0.5, 0.75, 1.0, 1.3, 1.4).
        decoder_filters: filters of the four decoder steps, from the 1/16 skip up to the 1/2 one.

    Returns:
        A ``keras.Model`` from ``(N, H, W, 3)`` images **in [0, 1]** to float32 logits ``(N, H, W, n_classes)``,
        whose layer :data:`ENCODER_NAME` is the frozen MobileNetV2 sub-model with the :data:`SKIP_LAYERS` outputs.

    Raises:
        ValueError: if ``input_size`` is not ``(H, W, 3)`` with sides multiples of 32 (or None), or
            ``n_classes``, ``alpha`` or ``decoder_filters`` are not positive numbers.

    Example:
        >>> mobilenet_unet((64, 64, 3), n_classes=2, alpha=0.35).output_shape
        (None, 64, 64, 2)
    """
    input_size = _validated_input_size(input_size)
    n_classes = _check_positive_int("n_classes", n_classes)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha > 0:
        raise ValueError(f"alpha must be a positive number, got {alpha!r}")
    try:
        decoder_filters = tuple(decoder_filters)
    except TypeError:
        raise ValueError(f"decoder_filters must be 4 positive integers, got {decoder_filters!r}") from None
    if len(decoder_filters) != 4:
        raise ValueError(f"decoder_filters must be 4 positive integers (one per decoder step), got {decoder_filters!r}")
    decoder_filters = tuple(_check_positive_int("decoder_filters", filters) for filters in decoder_filters)
    with warnings.catch_warnings():
        # Keras warns that it loads 224x224 ImageNet weights for other sizes: right, a convolutional encoder fits any.
        warnings.filterwarnings("ignore", message=".*Weights for input shape.*")
        backbone = keras.applications.MobileNetV2(input_shape=input_size, include_top=False, weights=weights,
                                                  alpha=alpha)
    encoder = keras.Model(backbone.input, [backbone.get_layer(name).output for name in SKIP_LAYERS],
                          name=ENCODER_NAME)
    encoder.trainable = False

    inputs = keras.Input(input_size, name="image")
    x = keras.layers.Rescaling(2.0, offset=-1.0, name=PREPROCESS_LAYER)(inputs)  # [0, 1] -> [-1, 1]
    *skips, x = encoder(x)
    for level, (skip, filters) in enumerate(zip(reversed(skips), decoder_filters, strict=True)):
        x = _decoder_step(x, skip, filters, name=f"decoder{level + 1}")
    x = keras.layers.Conv2DTranspose(decoder_filters[-1], 3, strides=2, padding="same", activation="relu",
                                     name="decoder_to_full_size")(x)
    # float32 logits even under mixed precision: a softmax or sigmoid of float16 logits overflows.
    logits = keras.layers.Conv2D(n_classes, 1, dtype="float32", name="logits")(x)
    return keras.Model(inputs, logits, name="mobilenet_unet")


def set_encoder_trainable(model, trainable: bool = True):
    """Freeze (``False``) or unfreeze (``True``) the encoder of a :func:`mobilenet_unet`.

    Compile again afterwards (Keras reads ``trainable`` at compile time), with a small learning rate such as
    1e-4 to fine-tune. The encoder's batch normalisation stays frozen, in inference mode with its stored
    statistics: small fine-tuning batches would overwrite ImageNet's.

    Args:
        model: a model built by :func:`mobilenet_unet`.
        trainable: whether the encoder's weights train.

    Returns:
        ``model``, changed in place.

    Raises:
        ValueError: if ``model`` has no :data:`ENCODER_NAME` sub-model, or ``trainable`` is not a bool.
    """
    if not isinstance(trainable, bool):
        raise ValueError(f"trainable must be True or False, got {trainable!r}")
    if not isinstance(model, keras.Model) or ENCODER_NAME not in [layer.name for layer in model.layers]:
        raise ValueError(f"model must be a mobilenet_unet (a keras.Model with a '{ENCODER_NAME}' sub-model), "
                         f"got {type(model).__name__}")
    encoder = model.get_layer(ENCODER_NAME)
    encoder.trainable = trainable
    # Not `encoder(x, training=False)` when building: in Keras 3, fit's training=True overrides it
    # (keras-team/keras#20285). A frozen batch-normalisation layer runs in inference mode.
    for layer in encoder.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    return model
