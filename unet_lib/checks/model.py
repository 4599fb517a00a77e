"""Self-checks for the U-Net exercises: the learner's blocks and model, layer by layer.

A learner's Keras model cannot be compared with the reference by its weights (they are random), but
its structure can: every layer's type, output shape, parameter count and settings (kernel size,
stride, padding, activation, initialiser, dropout rate...). :func:`layer_summary` turns a model into
such rows, plain tuples of strings and integers, so the expected answers can be recorded to a file.
A check reports the FIRST layer that differs, which is where a learner should look.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from unet_lib._keras import keras
from unet_lib.checks.core import (
    Case,
    CheckFailed,
    ExerciseNotWritten,
    no_library_answers,
    not_written_message,
    structure_difference,
)
from unet_lib.reference.model import conv_block, unet_model, upsampling_block

# Each exercise, declared once (see unet_lib/checks/masks.py). "kind" says how grading calls the function: on
# keras.Input tensors of each case's input_shapes ("block") or with its keyword arguments ("model"), and then
# summarises the Keras model built, layer by layer. Later lessons import the learner's own from my_unet.py
# (unet_lib.save_answers), ungraded.
GRADED = {
    "conv_block": {"function": "unet_lib.reference.model.conv_block", "kind": "block", "points": 2,
                   "lessons": ["03_unet"]},
    "upsampling_block": {"function": "unet_lib.reference.model.upsampling_block", "kind": "block", "points": 2,
                         "lessons": ["02_skip_connections"]},
    "unet_model": {"function": "unet_lib.reference.model.unet_model", "kind": "model", "points": 3,
                   "lessons": ["03_unet"]},
}

LayerRow = tuple[str, tuple, int, str]
"""``(layer type, output shape, parameter count, settings)``, e.g.
``("Conv2D", (None, 96, 128, 32), 896, "3x3 stride 1 same relu HeNormal")``."""

def _layer_settings(layer) -> str:
    """The settings of a layer that change what it computes but not its shape or parameter count."""
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
        height, width = layer.kernel_size
        stride = "x".join(str(s) for s in layer.strides) if len(set(layer.strides)) > 1 else str(layer.strides[0])
        return (f"{height}x{width} stride {stride} {layer.padding} {layer.activation.__name__} "
                f"{type(layer.kernel_initializer).__name__}")
    if isinstance(layer, keras.layers.Dropout):
        return f"rate {layer.rate:g}"
    if isinstance(layer, keras.layers.MaxPooling2D):
        return "pool {}x{}".format(*layer.pool_size)
    if isinstance(layer, keras.layers.UpSampling2D):
        return "size {}x{} {}".format(*layer.size, layer.interpolation)
    if isinstance(layer, keras.layers.Activation):
        return layer.activation.__name__
    return ""


def layer_summary(model) -> list[LayerRow]:
    """One row per layer of ``model``: type, output shape, parameter count and settings.

    Args:
        model: a built ``keras.Model`` (functional: every layer has a single output).

    Returns:
        A list of ``(type, output_shape, n_params, settings)`` tuples in the model's layer order,
        plain data that can be compared, printed or saved as JSON.

    Raises:
        ValueError: if ``model`` is not a ``keras.Model``.

    Example:
        >>> layer_summary(unet_model())[1]
        ('Conv2D', (None, 96, 128, 32), 896, '3x3 stride 1 same relu HeNormal')
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model, got {type(model).__name__}")
    return [
        (type(layer).__name__, tuple(layer.output.shape), int(layer.count_params()), _layer_settings(layer))
        for layer in model.layers
    ]


def _verify_structure(title: str, learner: Callable, build: Callable[..., dict], cases: Sequence[Case]) -> None:
    """Like :func:`unet_lib.checks.core.verify`, with layer-by-layer feedback.

    ``build(**case.kwargs)`` runs ``learner`` (under :func:`unet_lib.checks.core.no_library_answers`) and
    returns ``{"returned_shapes": ..., "layers": ...}``; each case's ``expected`` has the same form, from
    the reference.
    """
    for case in cases:
        try:
            with no_library_answers(title, learner):
                got = build(*case.args, **case.kwargs)
        except NotImplementedError:
            raise ExerciseNotWritten(not_written_message(title)) from None
        except CheckFailed:
            raise
        except Exception as error:  # noqa: BLE001 - any error in learner code becomes feedback
            raise CheckFailed(f"{title}: case '{case.label}' raised {type(error).__name__}: {error}") from None
        difference = structure_difference(got, case.expected)
        if difference is not None:
            raise CheckFailed(f"{title}: case '{case.label}': {difference}")
    print(f"✓ {title}: all {len(cases)} cases match the reference, layer by layer.")


def _as_tensor_list(title: str, returned) -> list:
    tensors = list(returned) if isinstance(returned, (tuple, list)) else [returned]
    for tensor in tensors:
        if not hasattr(tensor, "shape") or not hasattr(tensor, "_keras_history"):
            raise CheckFailed(f"{title}: expected Keras tensors to be returned, got {type(tensor).__name__} {tensor!r}")
    return tensors


def summarise_block(title: str, block: Callable, input_shapes: Sequence[tuple], kwargs: dict) -> dict:
    """Call ``block`` on fresh ``keras.Input`` tensors and summarise the model from them to its outputs."""
    inputs = [keras.Input(shape) for shape in input_shapes]
    outputs = _as_tensor_list(title, block(*inputs, **kwargs))
    model = keras.Model(inputs=inputs, outputs=outputs)
    return {"returned_shapes": [tuple(t.shape) for t in outputs], "layers": layer_summary(model)}


def _verify_block(title: str, learner_block: Callable, cases: Sequence[Case]) -> None:
    """Check a learner's block function on cases from :func:`conv_block_cases` or the like."""
    if not callable(learner_block):
        raise CheckFailed(f"{title}: expected a function to check, got {type(learner_block).__name__}")

    def build(input_shapes, kwargs):
        return summarise_block(title, learner_block, input_shapes, kwargs)

    _verify_structure(title, learner_block, build, cases)


def conv_block_cases() -> list[Case]:
    """Inputs to ``conv_block`` covering dropout, pooling and batch normalisation, with the reference summaries."""
    settings = [
        ("96x128x3 input, 32 filters, no dropout, pooling", (96, 128, 3),
         {"n_filters": 32, "dropout_prob": 0.0, "max_pooling": True}),
        ("12x16x128 input, 256 filters, dropout 0.3, pooling", (12, 16, 128),
         {"n_filters": 256, "dropout_prob": 0.3, "max_pooling": True}),
        ("6x8x256 input, 512 filters, dropout 0.3, no pooling (the bottleneck)", (6, 8, 256),
         {"n_filters": 512, "dropout_prob": 0.3, "max_pooling": False}),
        ("64x64x3 input, 8 filters, batch normalisation, pooling", (64, 64, 3),
         {"n_filters": 8, "dropout_prob": 0.0, "max_pooling": True, "batch_norm": True}),
    ]
    return [
        Case(label, (), summarise_block("conv_block", conv_block, [shape], kwargs),
             {"input_shapes": [shape], "kwargs": kwargs})
        for label, shape, kwargs in settings
    ]


def conv_block_hidden_cases() -> list[Case]:
    """Graded but not shown: odd sizes, batch normalisation with dropout, and a block without pooling."""
    settings = [("10x14x5 input, 6 filters, dropout 0.2, batch normalisation, pooling", (10, 14, 5),
                 {"n_filters": 6, "dropout_prob": 0.2, "max_pooling": True, "batch_norm": True}),
                ("8x8x4 input, 3 filters, no pooling", (8, 8, 4), {"n_filters": 3, "max_pooling": False})]
    return [Case(label, (), None, {"input_shapes": [shape], "kwargs": kwargs}) for label, shape, kwargs in settings]


def check_conv_block(learner_conv_block: Callable, cases: Sequence[Case] | None = None) -> None:
    """Check a learner's ``conv_block(inputs, n_filters, dropout_prob, max_pooling, batch_norm)`` layer by layer.

    Each case builds a model from a ``keras.Input`` through the learner's block to the
    ``(next_layer, skip_connection)`` it returns, and compares every layer (type, output shape,
    parameter count, settings) and the two returned shapes with the reference's.

    Raises:
        CheckFailed: naming the first case and the first layer that differ.
    """
    _verify_block("conv_block", learner_conv_block, conv_block_cases() if cases is None else cases)


def upsampling_block_cases() -> list[Case]:
    """Inputs to ``upsampling_block`` at two levels of the MOOC U-Net and one batch-normalised, with the reference
    summaries."""
    settings = [
        ("6x8x512 from below, 12x16x256 skip, 256 filters", [(6, 8, 512), (12, 16, 256)], {"n_filters": 256}),
        ("48x64x64 from below, 96x128x32 skip, 32 filters", [(48, 64, 64), (96, 128, 32)], {"n_filters": 32}),
        ("4x4x32 from below, 8x8x16 skip, 16 filters, batch normalisation", [(4, 4, 32), (8, 8, 16)],
         {"n_filters": 16, "batch_norm": True}),
    ]
    return [
        Case(label, (), summarise_block("upsampling_block", upsampling_block, shapes, kwargs),
             {"input_shapes": shapes, "kwargs": kwargs})
        for label, shapes, kwargs in settings
    ]


def upsampling_block_hidden_cases() -> list[Case]:
    """Graded but not shown: another level (3x5x20 from below, 6x10x12 skip, 7 filters), with and without batch
    normalisation."""
    return [Case(f"3x5x20 from below, 6x10x12 skip, 7 filters, batch_norm={batch_norm}", (), None,
                 {"input_shapes": [(3, 5, 20), (6, 10, 12)], "kwargs": {"n_filters": 7, "batch_norm": batch_norm}})
            for batch_norm in (False, True)]


def check_upsampling_block(learner_upsampling_block: Callable, cases: Sequence[Case] | None = None) -> None:
    """Check a learner's ``upsampling_block(expansive_input, contractive_input, n_filters, batch_norm)`` layer by layer.

    Raises:
        CheckFailed: naming the first case and the first layer that differ.
    """
    _verify_block("upsampling_block", learner_upsampling_block, upsampling_block_cases() if cases is None else cases)


def summarise_model(title: str, build_model: Callable, kwargs: dict) -> dict:
    model = build_model(**kwargs)
    if not isinstance(model, keras.Model):
        raise CheckFailed(f"{title}: expected a keras.Model to be returned, got {type(model).__name__} {model!r}")
    return {"returned_shapes": [tuple(model.output.shape)], "layers": layer_summary(model)}


def unet_model_cases() -> list[Case]:
    """The MOOC's U-Net (96x128x3, 32 filters, 23 classes, depth 4) and two small ones, with their summaries."""
    settings = [
        ("MOOC defaults: 96x128x3 input, 32 filters, 23 classes",
         {"input_size": (96, 128, 3), "n_filters": 32, "n_classes": 23}),
        ("64x64x3 input, 8 filters, 3 classes, depth 4, batch normalisation, no dropout (lesson 03's training)",
         {"input_size": (64, 64, 3), "n_filters": 8, "n_classes": 3, "depth": 4, "batch_norm": True,
          "dropout_prob": 0.0}),
        ("32x32x3 input, 4 filters, 3 classes, depth 3, dropout 0.5",
         {"input_size": (32, 32, 3), "n_filters": 4, "n_classes": 3, "depth": 3, "dropout_prob": 0.5}),
    ]
    return [Case(label, (), summarise_model("unet_model", unet_model, kwargs), kwargs) for label, kwargs in settings]


def unet_model_hidden_cases() -> list[Case]:
    """Graded but not shown: a one-channel 32x48 input with 5 classes, and any image size (``None``) at depth 2."""
    return [Case("32x48x1 input, 4 filters, 5 classes", (), None,
                 {"input_size": (32, 48, 1), "n_filters": 4, "n_classes": 5}),
            Case("any size (None, None, 3), 2 filters, 3 classes, depth 2, batch normalisation, no dropout", (), None,
                 {"input_size": (None, None, 3), "n_filters": 2, "n_classes": 3, "depth": 2, "batch_norm": True,
                  "dropout_prob": 0.0})]


def check_unet_model(learner_unet_model: Callable, cases: Sequence[Case] | None = None) -> None:
    """Check a learner's ``unet_model`` layer by layer.

    The learner's function takes ``(input_size, n_filters, n_classes, depth, batch_norm, dropout_prob)``,
    all with the defaults of :func:`unet_lib.reference.model.unet_model`; the cases pass them by keyword.

    Raises:
        CheckFailed: naming the first case and the first layer that differ.
    """
    if not callable(learner_unet_model):
        raise CheckFailed(f"unet_model: expected a function to check, got {type(learner_unet_model).__name__}")

    def build(**kwargs):
        return summarise_model("unet_model", learner_unet_model, kwargs)

    _verify_structure("unet_model", learner_unet_model, build, unet_model_cases() if cases is None else cases)
