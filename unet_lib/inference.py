"""Segment an image of any size with a U-Net: pad to the size the network takes, or tile it (overlap-tile).

Each downsampling halves height and width and the decoder must double them back exactly, so a side must be a
multiple of :func:`size_multiple` (``2**depth``; 32 for a MobileNetV2 encoder). :func:`predict_image` takes any
size: with ``tile_size=None`` it mirrors the image at its bottom and right edges (``np.pad`` mode
``"symmetric"``) up to the next multiple, predicts and crops back; otherwise (overlap-tile, Ronneberger et al.
2015, section 2, https://arxiv.org/abs/1505.04597) it mirrors the image beyond its edges, predicts overlapping
tiles in batches and stitches their centres. Tiling bounds the network's activations; an overlap of at least
the receptive-field radius makes every kept pixel see what it would in the whole image. Memory still grows
with the image: a padded float32 copy and the float32 scores ``(H, W, n_classes)``.
"""

from __future__ import annotations

import numpy as np

from unet_lib._keras import keras
from unet_lib._validate import check_positive_int as _check_positive_int

PROBE_SIDE = 1024
"""Side of the symbolic image :func:`size_multiple` pushes through a model: it detects factors up to 1024."""


def _image_input_shape(model) -> tuple:
    """``(H, W, C)`` of the one image input of ``model`` (``None`` for a side of any size)."""
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model, got {type(model).__name__}")
    shape = getattr(model, "input_shape", None)  # absent on a subclassed model that was never built
    if not (isinstance(shape, tuple) and len(shape) == 4):
        raise ValueError(f"model must take one (N, H, W, C) image input, got input shape {shape!r}")
    return shape[1:]


def size_multiple(model) -> int:
    """The multiple a side must be for ``model``: its largest downsampling factor (1 without any).

    Measured, not read off layer types: a symbolic ``(1, H, W, C)`` image (a free side probed as
    :data:`PROBE_SIDE`) goes through the model and its nested sub-models, and the factor is the larger of
    ``H / h`` and ``W / w``, rounded, for the smallest ``h``, ``w`` of any ``(1, h, w, c)`` layer output. So
    poolings and strided convolutions count alike, and branches by their deepest path. Assumes ``"same"``
    padding (rounding absorbs a ``"valid"`` layer's trim); a subclassed sub-model counts only by its output.

    Raises:
        ValueError: if ``model`` is not a ``keras.Model`` taking one ``(N, H, W, C)`` image input.

    Example:
        >>> from unet_lib.reference.model import unet_model
        >>> size_multiple(unet_model((None, None, 3), n_filters=2, n_classes=3, depth=3))
        8
    """
    height, width, channels = _image_input_shape(model)
    probe = [PROBE_SIDE if side is None else side for side in (height, width)]
    smallest = list(probe)

    def recorded(operation):
        # Shapes only: each operation computes its output spec, never its values.
        def run(*args, **kwargs):
            if isinstance(operation, keras.Sequential):
                outputs = args[0]
                for layer in operation.layers:
                    outputs = recorded(layer)(outputs)
            elif isinstance(operation, keras.Model) and hasattr(operation, "_run_through_graph"):
                # A functional (sub-)model: Keras's own graph walk (Functional.compute_output_spec uses it),
                # with this function at every node so the nested layers' shapes are seen too.
                outputs = operation._run_through_graph(args[0], operation_fn=recorded)
            else:
                outputs = operation.compute_output_spec(*args, **kwargs)
            for spec in keras.tree.flatten(outputs):
                if len(spec.shape) == 4:
                    for axis, side in enumerate(spec.shape[1:3]):
                        if side is not None:
                            smallest[axis] = min(smallest[axis], side)
            return outputs
        return run

    recorded(model)(keras.KerasTensor((1, *probe, channels)))
    # max(least, 1): a "valid" pooling can take a side below its pool size down to 0.
    return max(round(side / max(least, 1)) for side, least in zip(probe, smallest, strict=True))


def batched_logits(model, images: np.ndarray, batch_size: int) -> np.ndarray:
    """float32 logits of ``images`` ``(N, H, W, C)``, fed in batches of exactly ``batch_size``.

    The last chunk is padded with blank images, dropped again: one input shape, so TF and JAX trace once.
    """
    outputs = []
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size]
        padded = np.concatenate([chunk, np.zeros((batch_size - len(chunk), *chunk.shape[1:]), np.float32)])
        outputs.append(np.asarray(keras.ops.convert_to_numpy(model.predict_on_batch(padded)))[:len(chunk)])
    return np.concatenate(outputs).astype(np.float32)


def labels_from_logits(logits: np.ndarray) -> np.ndarray:
    """int32 labels ``(...)`` of logits ``(..., n_classes)``: the argmax over classes, or for one channel (a
    sigmoid model) ``logits[..., 0] > 0`` as 0 or 1 (a logit above 0 is a probability above 0.5)."""
    if logits.shape[-1] == 1:
        return (logits[..., 0] > 0).astype(np.int32)
    return logits.argmax(axis=-1).astype(np.int32)


def _sides(sides) -> str:
    return "x".join("any" if side is None else str(side) for side in sides)


def predict_image(model, image, tile_size: int | None = None, overlap: int = 0, batch_size: int = 4,
                  return_logits: bool = False) -> np.ndarray:
    """The class of every pixel of ``image``, whatever its size (see the module docstring).

    Args:
        model: a segmentation model from ``(N, H, W, C)`` images to ``(N, H, W, n_classes)`` scores (softmax
            logits, or one sigmoid logit for ``n_classes = 1``). For ``tile_size=None`` it must take any size
            (``input_size=(None, None, C)``) or exactly the padded size.
        image: ``(H, W, C)``, any ``H`` and ``W`` >= 1, ``C`` the model's channels, scaled as in training.
        tile_size: ``None`` for one forward pass over the padded image; else the side of the square tiles, a
            multiple of :func:`size_multiple`, and the model's own input size when it has one.
        overlap: pixels of context on every side of each tile's kept centre, a multiple of
            :func:`size_multiple`, ``2 * overlap < tile_size``.
        batch_size: tiles per forward pass.
        return_logits: return the stitched scores ``(H, W, n_classes)`` instead of labels.

    Returns:
        int32 labels ``(H, W)`` (as :func:`labels_from_logits`), or float32 scores ``(H, W, n_classes)``
        with ``return_logits``.

    Raises:
        ValueError: for an image that is not ``(H, W, C)`` with the model's ``C``; on a fixed-size model, a
            padded size or ``tile_size`` that is not the model's; a ``tile_size`` or ``overlap`` that is not a
            multiple of the model's, or an overlap that leaves no centre.

    Example:
        >>> from unet_lib.reference.model import unet_model
        >>> predict_image(unet_model((None, None, 3), n_filters=2, n_classes=3, depth=2), np.zeros((37, 50, 3))).shape
        (37, 50)
    """
    multiple = size_multiple(model)
    *model_sides, channels = _image_input_shape(model)
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3 or min(image.shape) < 1:
        raise ValueError(f"image must be one (H, W, C) image, got shape {image.shape}")
    if channels is not None and image.shape[2] != channels:
        raise ValueError(f"image must have the model's {channels} channels, (H, W, {channels}), "
                         f"got shape {image.shape}")
    batch_size = _check_positive_int("batch_size", batch_size)
    height, width = image.shape[:2]
    if tile_size is None:
        padded_size = [-(-side // multiple) * multiple for side in (height, width)]
        if any(side not in (None, padded) for side, padded in zip(model_sides, padded_size, strict=True)):
            raise ValueError(f"image must pad to the model's fixed input size {_sides(model_sides)}, got shape "
                             f"{image.shape}, which pads to {_sides(padded_size)} (multiples of {multiple}): pass "
                             f"tile_size, or build the model with input_size (None, None, {channels})")
        padded = np.pad(image, [(0, padded_size[0] - height), (0, padded_size[1] - width), (0, 0)], mode="symmetric")
        logits = batched_logits(model, padded[None], 1)[0][:height, :width]
    else:
        tile_size = _check_positive_int("tile_size", tile_size)
        if any(side not in (None, tile_size) for side in model_sides):
            raise ValueError(f"tile_size must be the model's fixed input size {_sides(model_sides)} (tiles are "
                             f"tile_size x tile_size), got {tile_size}")
        if isinstance(overlap, bool) or not isinstance(overlap, (int, np.integer)) or overlap < 0:
            raise ValueError(f"overlap must be an integer >= 0, got {overlap!r}")
        for name, value in (("tile_size", tile_size), ("overlap", overlap)):
            if value % multiple:
                raise ValueError(f"{name} must be a multiple of {multiple} (the model's downsampling factor, "
                                 f"size_multiple(model), so tiles fall on the whole image's pooling grid), got {value}")
        step = tile_size - 2 * overlap
        if step < 1:
            raise ValueError(f"overlap must leave a centre: 2 * overlap < tile_size, got overlap {overlap} and "
                             f"tile_size {tile_size}")
        rows, columns = -(-height // step), -(-width // step)
        # Context of `overlap` pixels before the first centre, and enough after the last tile.
        padding = [(overlap, rows * step - height + overlap), (overlap, columns * step - width + overlap), (0, 0)]
        padded = np.pad(image, padding, mode="symmetric")
        origins = [(row * step, column * step) for row in range(rows) for column in range(columns)]
        logits = None
        for start in range(0, len(origins), batch_size * 8):  # a bounded number of tiles in memory at once
            chunk = origins[start:start + batch_size * 8]
            tiles = np.stack([padded[y:y + tile_size, x:x + tile_size] for y, x in chunk])
            tile_logits = batched_logits(model, tiles, batch_size)
            if logits is None:
                logits = np.empty((rows * step, columns * step, tile_logits.shape[-1]), np.float32)
            for (y, x), scores in zip(chunk, tile_logits, strict=True):
                logits[y:y + step, x:x + step] = scores[overlap:overlap + step, overlap:overlap + step]
        logits = logits[:height, :width]
    return logits if return_logits else labels_from_logits(logits)


def predict_masks(model, images: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """The class of every pixel: the argmax of the model's logits, or logit > 0 for a one-channel model.

    Every forward pass gets exactly ``batch_size`` images (:func:`batched_logits`): TensorFlow and JAX trace
    a compiled pass once per input shape, so one image after a batch of 256 takes milliseconds, not a new
    trace (about a second, and a retracing warning) as with ``model.predict`` on varying batches.

    Args:
        model: a segmentation model returning ``(N, H, W, n_classes)`` scores.
        images: a batch ``(N, H, W, C)`` or a single image ``(H, W, C)``.
        batch_size: images per forward pass, at least 1; a single image costs as much as this many.

    Returns:
        int32 labels ``(N, H, W)``, or ``(H, W)`` for a single image.

    Raises:
        ValueError: if ``images`` is neither 3-D nor 4-D, or ``batch_size`` is not a positive integer.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must be (N, H, W, C) or a single (H, W, C) image, got shape {images.shape}")
    batch_size = _check_positive_int("batch_size", batch_size)
    labels = labels_from_logits(batched_logits(model, images[None] if images.ndim == 3 else images, batch_size))
    return labels[0] if images.ndim == 3 else labels
