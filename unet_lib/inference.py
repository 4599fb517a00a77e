"""Segment an image of any size with a U-Net: pad to the size the network takes, or tile it (overlap-tile).

A U-Net is fully convolutional, but each of its ``depth`` poolings halves height and width and the
decoder must double them back exactly, so a side must be a multiple of ``2**depth`` (of 32 for a
MobileNetV2 encoder, which halves them with strided convolutions): :func:`size_multiple`.
:func:`predict_image` handles every other size and images too large for one forward pass:

- **whole image** (``tile_size=None``): mirror the image at its bottom and right edges (``np.pad``
  mode ``"symmetric"``) up to the next multiple, predict, crop the prediction back to the image's size;
- **overlap-tile** (Ronneberger et al., 2015): mirror the image beyond its edges, cut it into tiles
  of ``tile_size`` that overlap by ``overlap`` pixels on every side, predict the tiles in batches,
  keep each tile's centre and stitch the centres into a map of the image's size. The network's
  activations are bounded by the tile batch, whatever the image's size; with an overlap at least the
  network's receptive-field radius, every kept pixel sees what it would see in the whole image.

Either way memory still grows with the image's pixel count: :func:`predict_image` holds a mirrored,
padded float32 copy of the image and the stitched float32 scores ``(H, W, n_classes)``.

Reference:
    O. Ronneberger, P. Fischer, T. Brox, "U-Net: Convolutional Networks for Biomedical Image
    Segmentation", MICCAI 2015, section 2 and figure 2, https://arxiv.org/abs/1505.04597
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

    The factor is measured, not read off the layer types: a symbolic ``(1, H, W, C)`` image (a side
    of any size probed as :data:`PROBE_SIDE`, a fixed one as itself) goes through the model, its
    nested sub-models (``keras.Model`` or ``keras.Sequential`` layers, walked layer by layer)
    included, and the factor is the larger of ``H / h`` and ``W / w``, rounded, where ``h`` and ``w``
    are the smallest height and width of any layer's ``(1, h, w, c)`` output. So poolings and strided
    convolutions count alike, and branches count by their deepest path, not by the product of all
    the strides. Assumes ``"same"``-padded layers (a ``"valid"`` one trims a few pixels, which the
    rounding absorbs); a subclassed sub-model counts only by its output, its ``call`` being opaque.

    Raises:
        ValueError: if ``model`` is not a ``keras.Model`` taking one ``(N, H, W, C)`` image input.

    Example:
        >>> from unet_lib.model import unet_model
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

    The last chunk is padded with blank images that are dropped again: one input shape, so TensorFlow and
    JAX trace the forward pass once (``model.predict`` on a smaller last batch traces it anew).
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
        model: a segmentation model from ``(N, H, W, C)`` images to ``(N, H, W, n_classes)`` scores:
            softmax logits for ``n_classes >= 2``, one sigmoid logit for ``n_classes = 1``.
            For ``tile_size=None`` it must take any size (built with ``input_size=(None, None, C)``)
            or exactly the padded size.
        image: ``(H, W, C)``, any ``H`` and ``W`` >= 1, ``C`` the model's channels, scaled as the
            model was trained (e.g. 0 to 1).
        tile_size: ``None`` for one forward pass over the padded image; else the side of the square
            tiles, a multiple of :func:`size_multiple`, and the model's own input size when it has one.
        overlap: pixels of context added on every side of each tile's kept centre, a multiple of
            :func:`size_multiple`, ``2 * overlap < tile_size``. Pixels that close to a tile's edge are
            predicted by the neighbouring tile instead.
        batch_size: tiles per forward pass.
        return_logits: return the stitched scores ``(H, W, n_classes)`` instead of labels.

    Returns:
        int32 labels ``(H, W)``: the ``argmax`` of the scores over classes, or for a one-channel model
        ``logits[..., 0] > 0`` as 0 or 1 (a logit above 0 is a sigmoid probability above 0.5);
        or float32 scores ``(H, W, n_classes)`` with ``return_logits``.

    Raises:
        ValueError: on an image that is not ``(H, W, C)`` with the model's ``C``; on a fixed-size model,
            an image whose padded size is not the model's (``tile_size=None``) or a ``tile_size`` that is
            not it; a ``tile_size`` or ``overlap`` that is not a multiple of the model's, or an overlap
            that leaves no centre.

    Example:
        >>> from unet_lib.model import unet_model
        >>> model = unet_model((None, None, 3), n_filters=2, n_classes=3, depth=2)
        >>> predict_image(model, np.zeros((37, 50, 3))).shape
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


MEASURE = """
import json, resource, sys, time
import numpy as np
from unet_lib.environment import set_seed
from unet_lib.inference import predict_image
from unet_lib.model import unet_model

side, tile_size, overlap = (int(value) for value in sys.argv[1:4])
set_seed(0)
model = unet_model((None, None, 3), n_filters=8, n_classes=3, depth=4, batch_norm=True, dropout_prob=0.0)
predict_image(model, np.zeros((tile_size, tile_size, 3), np.float32), tile_size=tile_size, overlap=overlap)
image = np.random.default_rng(0).random((side, side, 3), dtype=np.float32)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
labels = predict_image(model, image, tile_size=tile_size, overlap=overlap)
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"side": side, "seconds": seconds, "peak_growth_mb": (peak - before) / 1024, "shape": labels.shape}))
"""
"""One measurement of ``bench predict``, in a fresh process so that its peak memory is its own."""


def add_benchmark(subparsers) -> None:
    """``bench predict``: time and peak memory of overlap-tile prediction as the image grows."""
    import json
    import subprocess
    import sys

    parser = subparsers.add_parser("predict", help="time and peak memory of predict_image on growing square "
                                   "images (the lesson's U-Net, tiled), per million pixels, as JSON lines")
    parser.add_argument("--sides", type=int, nargs="+", default=[512, 1024, 2048], help="image sides in pixels")
    parser.add_argument("--tile-size", type=int, default=256)
    parser.add_argument("--overlap", type=int, default=32)

    def run(arguments) -> int:
        for side in arguments.sides:
            completed = subprocess.run([sys.executable, "-c", MEASURE, str(side), str(arguments.tile_size),
                                        str(arguments.overlap)], capture_output=True, text=True, check=False)
            if completed.returncode != 0:
                print(f"bench predict: side {side} failed: {completed.stderr.strip().splitlines()[-1:]}",
                      file=sys.stderr)
                return 1
            row = json.loads(completed.stdout.splitlines()[-1])
            megapixels = side * side / 1e6
            row.update(seconds_per_megapixel=round(row["seconds"] / megapixels, 3),
                       peak_growth_mb_per_megapixel=round(row["peak_growth_mb"] / megapixels, 1),
                       seconds=round(row["seconds"], 2), peak_growth_mb=round(row["peak_growth_mb"], 1))
            print(json.dumps({"benchmark": "predict", "tile_size": arguments.tile_size,
                              "overlap": arguments.overlap, **row}))
        return 0

    parser.set_defaults(handler=run)
