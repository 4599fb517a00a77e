"""Self-checks for the U-Net exercises: what the learner's blocks and model compute, however they are written.

A check builds the learner's block on ``keras.Input`` tensors (or calls their ``unet_model``), sets EVERY weight to
a function of its shape alone (:func:`fill_weights`) and summarises what the result computes (:func:`behaviour`):
shapes, parameter count, outputs on a fixed input in inference mode. Names, layer order, ReLU layers or
``activation="relu"``, ``Concatenate`` or ``keras.ops.concatenate``, initialisers do not change it; a swapped
concatenation, a missing skip, a crop or a softmax does. :func:`behaviour_difference` compares two summaries and
names the mistake, for the self-check and for the grader (:mod:`course_tools.sandbox_harness` summarises there).
"""

from __future__ import annotations

import contextlib
import warnings
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from unet_lib._keras import keras
from unet_lib.checks.core import (
    Case,
    CheckFailed,
    case_differs_message,
    learner_errors,
    no_library_answers,
    recorded_outcome,
)
from unet_lib.reference.model import conv_block, unet_model, upsampling_block

# Each exercise, declared once (see unet_lib/checks/masks.py). "kind" says how grading calls the function: on
# keras.Input tensors of each case's input_shapes ("block") or with its keyword arguments ("model"). Later
# lessons import the learner's own from my_unet.py (unet_lib.save_answers), ungraded.
GRADED = {
    "conv_block": {"function": "unet_lib.reference.model.conv_block", "kind": "block", "points": 2,
                   "lessons": ["04_unet"]},
    "upsampling_block": {"function": "unet_lib.reference.model.upsampling_block", "kind": "block", "points": 2,
                         "lessons": ["03_skip_connections"]},
    "unet_model": {"function": "unet_lib.reference.model.unet_model", "kind": "model", "points": 3,
                   "lessons": ["04_unet"]},
}

RTOL = 1e-4
"""Outputs match within ``RTOL * (|expected| + the expected output's rms)``: float32 on any CPU, GPU or backend."""
N_SAMPLES = 24
"""Output values kept per tensor returned, after its mean, rms, min, max and 4 random projections of all values."""
UPSAMPLINGS = {"Conv2DTranspose", "ConvTranspose", "UpSampling2D", "Resize", "Resizing"}
"""Operations (layers or ``keras.ops``) that enlarge a feature map: a concatenation's decoder operand comes from one."""
BATCH_NORM = {"gamma", "beta", "moving_mean", "moving_variance"}


def _uniform(n: int, seed: int) -> np.ndarray:
    """``n`` numbers in [-1, 1) from ``seed``: splitmix64 in integer arithmetic, the same on every machine."""
    z = np.uint64(seed % 2**63) + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    for shift, factor in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
        z = (z ^ (z >> np.uint64(shift))) * np.uint64(factor)
    return ((z ^ (z >> np.uint64(31))) >> np.uint64(11)).astype(np.float64) / 2.0**52 - 1.0


def _filled(shape: tuple, role: str) -> np.ndarray:
    """A weight's value: He-scaled for a kernel, about 1 for gamma and moving variance, small for the rest."""
    u = _uniform(int(np.prod(shape)), sum((side + 1) * 7919**axis for axis, side in enumerate(shape))).reshape(shape)
    if len(shape) > 1:
        return u * np.sqrt(6 / np.prod(shape[:-1]))  # uniform with variance 2 / fan_in
    return 1 + u / 4 if role in ("gamma", "moving_variance") else u / 10


def fill_weights(model) -> None:
    """Set every float weight of ``model`` (batch-normalisation statistics included) to a function of its shape and
    Keras's name for it (:func:`_filled`): two models that compute the same function then give the same outputs."""
    for weight in model.weights:
        if "float" in str(weight.dtype):
            weight.assign(_filled(tuple(weight.shape), weight.name.rsplit("/", 1)[-1]).astype("float32"))


def _input(shape: Sequence[int], seed: int) -> np.ndarray:
    return (_uniform(int(np.prod(shape)), seed).reshape((1, *shape)) * np.sqrt(3)).astype("float32")


@contextlib.contextmanager
def _float32_matmuls():
    """Full float32 on a GPU while a check computes (TensorFlow, JAX and torch use TF32 there, about 1e-3 off)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        with jax.default_matmul_precision("float32"):
            yield
    elif backend == "tensorflow":
        from tensorflow import config

        before = config.experimental.tensor_float_32_execution_enabled()
        config.experimental.enable_tensor_float_32_execution(False)
        try:
            yield
        finally:
            config.experimental.enable_tensor_float_32_execution(before)
    else:
        import torch

        flags = (torch.backends.cuda.matmul, torch.backends.cudnn)
        before = [flag.allow_tf32 for flag in flags]
        for flag in flags:
            flag.allow_tf32 = False
        try:
            yield
        finally:
            for flag, value in zip(flags, before, strict=True):
                flag.allow_tf32 = value


def build(kind: str, title: str, function: Callable, kwargs: dict):
    """``(model, input arrays)`` from the learner's ``function``: "block", called on ``keras.Input`` tensors of
    ``kwargs["input_shapes"]``; "model", ``function(**kwargs)``, a ``keras.Model`` (sizes ``None`` run at 2**depth
    times 2 and 3)."""
    if kind == "block":
        inputs = [keras.Input(tuple(shape)) for shape in kwargs["input_shapes"]]
        returned = function(*inputs, **kwargs["kwargs"])
        outputs = list(returned) if isinstance(returned, (tuple, list)) else [returned]
        if not outputs or not all(isinstance(tensor, keras.KerasTensor) for tensor in outputs):
            raise CheckFailed(f"{title}: expected Keras tensors to be returned, got {type(returned).__name__} "
                              f"{returned!r:.200}")
        with warnings.catch_warnings():  # an input the outputs do not use is the learner's mistake, told below
            warnings.simplefilter("ignore")
            try:
                model = keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs)
            except ValueError:
                # Older Keras (3.12, the pin for Python 3.10) refuses such an input: tie every input to the
                # outputs with weight 0, which changes no value, so the model builds and the check can say which
                # input is not used.
                unused = sum(keras.ops.sum(tensor) * 0.0 for tensor in inputs)
                outputs = [tensor + keras.ops.cast(unused, tensor.dtype) for tensor in outputs]
                model = keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs)
        return model, [_input(shape, index) for index, shape in enumerate(kwargs["input_shapes"])]
    model = function(**kwargs)
    if not isinstance(model, keras.Model):
        raise CheckFailed(f"{title}: expected a keras.Model to be returned, got {type(model).__name__} {model!r:.200}")
    multiple = 2 ** kwargs.get("depth", 4)
    size = [side or multiple * (2 + axis) for axis, side in enumerate(kwargs.get("input_size", (96, 128, 3)))]
    return model, [_input(size, 0)]


def _graph(outputs: list) -> tuple[list, list]:
    """The concatenations ``(H, W, C, operands)``, each operand "upsampled" (if it descends from an upsampling) or
    "skip", and the dropout rates on the way to ``outputs``, read from the Keras graph."""
    upsampled, seen, concatenations, rates = {}, set(), [], []

    def visit(tensor) -> bool:
        if id(tensor) not in upsampled:
            operation, node_index, _ = tensor._keras_history
            node = operation._inbound_nodes[node_index]
            inner = operation.outputs if isinstance(operation, keras.Model) else []  # a model used as a layer
            parents = [visit(parent) for parent in [*node.input_tensors, *inner]]
            name = type(operation).__name__
            upsampled[id(tensor)] = name in UPSAMPLINGS or any(parents)
            if id(node) not in seen:
                seen.add(id(node))
                if name == "Concatenate":
                    concatenations.append((*tuple(tensor.shape)[1:], tuple(
                        "upsampled" if from_decoder else "skip" for from_decoder in parents)))
                if "Dropout" in name and getattr(operation, "rate", 0):
                    rates.append(round(float(operation.rate), 6))
        return upsampled[id(tensor)]

    for tensor in outputs:
        visit(tensor)
    return sorted(concatenations, key=lambda c: (c[0] or 0) * (c[1] or 0)), sorted(rates)


def _values(output: np.ndarray) -> np.ndarray:
    flat = output.astype(np.float64).ravel()
    positions = ((_uniform(N_SAMPLES, flat.size) + 1) / 2 * flat.size).astype(int)
    projections = _uniform(4 * flat.size, flat.size).reshape(4, -1) @ flat / np.sqrt(flat.size)  # see every value
    return np.concatenate([[flat.mean(), np.sqrt(np.mean(flat**2)), flat.min(), flat.max()], projections,
                           flat[positions]])


def behaviour(model, inputs: list[np.ndarray]) -> dict:
    """What ``model`` computes after :func:`fill_weights`, as plain data: ``{"shapes", "params", "outputs" (an
    array per output, see N_SAMPLES), "dropout" (rates)}``, which decide a match, and ``{"weights" ((name, shape,
    count)), "concatenations", "skip_used" (for a block's second input), "softmax"}``, which name a mistake."""
    def run(arrays: list) -> list[np.ndarray]:
        with warnings.catch_warnings():  # Keras takes [x] for x, and says so
            warnings.simplefilter("ignore")
            outputs = model(arrays if len(arrays) > 1 else arrays[0], training=False)
        return [keras.ops.convert_to_numpy(y) for y in keras.tree.flatten(outputs)]

    with _float32_matmuls():
        if not model.built:
            run(inputs)
        fill_weights(model)
        outputs, skip_used = run(inputs), None
        if len(inputs) > 1:  # a block's second input is its skip connection
            other = run([inputs[0], _input(inputs[1].shape[1:], 99), *inputs[2:]])
            skip_used = any(np.abs(a - b).max(initial=0) > 1e-6 * (np.abs(a).max(initial=0) + 1e-30)
                            for a, b in zip(outputs, other, strict=True))
    try:
        concatenations, rates = _graph(list(model.outputs))
    except (AttributeError, IndexError, TypeError, ValueError):  # not a functional model: no graph to read
        concatenations, rates = None, None
    last = outputs[-1].astype(np.float64)
    weights = Counter((weight.name.rsplit("/", 1)[-1], tuple(int(side) for side in weight.shape))
                      for weight in model.weights)
    return {"shapes": [tuple(int(side) for side in y.shape[1:]) for y in outputs],
            "params": int(model.count_params()), "outputs": [_values(y) for y in outputs], "dropout": rates,
            "weights": sorted((name, shape, count) for (name, shape), count in weights.items()),
            "concatenations": concatenations, "skip_used": skip_used,
            "softmax": bool(last.shape[-1] > 1 and last.min() >= 0 and np.allclose(last.sum(-1), 1, atol=1e-3))}


def summarise(kind: str, title: str, function: Callable, kwargs: dict) -> dict:
    """:func:`behaviour` of what ``function`` builds for one case (see :func:`build`)."""
    return behaviour(*build(kind, title, function, kwargs))


def _size(shape) -> str:
    return "x".join(str(side) for side in shape)


def _which(index: int, n: int) -> str:
    return "The output" if n == 1 else f"Tensor {index + 1} of the {n} returned"


def _shape_mistake(which: str, got: tuple, expected: tuple) -> str:
    if got[:-1] != expected[:-1]:
        told = f"{which} is {_size(got[:-1])} pixels, the reference's {_size(expected[:-1])}"
        smaller = {e - g for g, e in zip(got[:-1], expected[:-1], strict=False)}
        if got[:-1] == tuple(side // 2 for side in expected[:-1]):
            return told + ": half the size (is the pooled tensor returned where the skip should be, or a pooling " \
                          "too many?)"
        if got[:-1] == tuple(side * 2 for side in expected[:-1]):
            return told + ": twice the size (a pooling missing, or an upsampling too many?)"
        if len(smaller) == 1 and 0 < (crop := smaller.pop()) <= 8:
            return told + f": {crop} pixels smaller, so something crops or a convolution uses padding=\"valid\" (as " \
                          "in PyTorch-style U-Nets); with padding=\"same\" every 3x3 convolution keeps the size."
        return told + "."
    more = got[-1] - expected[-1]
    return (f"{which} has {got[-1]} channels, the reference's {expected[-1]} ({abs(more)} "
            f"{'more' if more > 0 else 'fewer'}{': an off-by-one' if abs(more) == 1 else ''} in the number of "
            "filters? check n_filters, and n_classes for the last layer).")


def _weights_in_words(weights: Counter) -> str:
    batch_norms = Counter(shape for (name, shape), n in weights.items() for _ in range(n) if name == "moving_mean")
    words = [f"{n} batch normalisation{'s' * (n > 1)} of {shape[0]} channels" for shape, n in batch_norms.items()]
    for (name, shape), n in weights.items():
        if name not in BATCH_NORM:
            kind = f"{shape[0]}x{shape[1]} convolution kernel" if name == "kernel" and len(shape) == 4 else name
            words.append(f"{n} {kind}{'es' if kind == 'bias' else 's'}" if n > 1 else f"a {kind}")
            words[-1] += f" of shape {shape}"
    return ", ".join(words[:4]) + (" and more" if len(words) > 4 else "")


def _weights_mistake(got: list, expected: list) -> str:
    got_weights = Counter({(name, tuple(shape)): n for name, shape, n in got})
    expected_weights = Counter({(name, tuple(shape)): n for name, shape, n in expected})
    missing, extra = expected_weights - got_weights, got_weights - expected_weights
    roles_missing, roles_extra = {name for name, _ in missing}, {name for name, _ in extra}
    if roles_missing & BATCH_NORM and roles_extra <= {"bias"}:
        return ("Batch normalisation is missing: with batch_norm=True each 3x3 convolution is followed by "
                f"BatchNormalization, then the ReLU (the reference has {_weights_in_words(missing)} that the answer "
                "lacks).")
    if roles_extra & BATCH_NORM and roles_missing <= {"bias"}:
        return f"The answer batch-normalises where the reference does not ({_weights_in_words(extra)} more)."
    if not missing and roles_extra == {"bias"} and any(name in BATCH_NORM for name, _ in expected_weights):
        return ("The convolutions before batch normalisation have a bias: give them use_bias=False (the "
                f"normalisation's shift replaces it; {_weights_in_words(extra)} more).")
    lacks = f"the reference has {_weights_in_words(missing)} that the answer lacks"
    too_many = f"the answer has {_weights_in_words(extra)} that the reference lacks"
    if not extra and roles_missing <= {"kernel", "bias"}:
        return f"A convolution is missing: {lacks}."
    if not missing and roles_extra <= {"kernel", "bias"}:
        return f"A convolution too many: {too_many}."
    return f"The weights differ: {lacks}; {too_many}."


def _concatenation_mistake(got: list, expected: list) -> str | None:
    def where(concatenation) -> str:
        return f" at {_size(concatenation[:2])}" if len(expected) > 1 else ""

    if len(got) != len(expected):
        missing = Counter(tuple(c[:2]) for c in expected) - Counter(tuple(c[:2]) for c in got)
        return (f"The model concatenates {len(got)} times, the reference {len(expected)} times (once per decoder "
                "level, the encoder's skip to the decoder's upsampled tensor)"
                + (f": no skip connection at {', '.join(_size(size) for size in missing)}." if missing else "."))
    for concatenation, reference in zip(got, expected, strict=True):
        operands, reference_operands = tuple(concatenation[-1]), tuple(reference[-1])
        if operands == reference_operands[::-1] and operands != reference_operands:
            return (f"The concatenation{where(concatenation)} puts the skip connection first: concatenate "
                    "[upsampled, skip], in that order (the convolution after it weighs the channels in that order).")
        if "skip" not in operands and "skip" in reference_operands:
            return f"The concatenation{where(concatenation)} has no skip connection: both operands are upsampled."
    return None


def _outputs_in_numbers(got: dict, expected: dict) -> str:
    """A line per returned tensor whose recorded values differ beyond tolerance (none: they match)."""
    lines = []
    for index, (g, e, shape) in enumerate(zip(got["outputs"], expected["outputs"], expected["shapes"], strict=True)):
        far = ~(np.abs(np.asarray(g, dtype=float) - e) <= RTOL * (np.abs(e) + e[1]) + 1e-12)
        if far.any():
            lines.append(f"{_which(index, len(expected['shapes']))} ({_size(shape)}): expected mean {e[0]:.4g}, rms "
                         f"{e[1]:.4g}, from {e[2]:.4g} to {e[3]:.4g}; got mean {g[0]:.4g}, rms {g[1]:.4g}, from "
                         f"{g[2]:.4g} to {g[3]:.4g}; {int(far.sum())} of {far.size} recorded values differ.")
    return "\n".join(lines)


def behaviour_difference(got: dict, expected: dict) -> str | None:
    """How a block or model's :func:`behaviour` ``got`` (any data, from a sandbox) differs from ``expected``: the
    mistake in words, then the numbers; ``None`` when shapes, parameter count, dropout rates and outputs (within
    :data:`RTOL`) match."""
    if not isinstance(got, dict) or set(got) != set(expected):
        return "expected the summary of a Keras block or model; got something else"
    shapes, expected_shapes = [tuple(s) for s in got["shapes"]], [tuple(s) for s in expected["shapes"]]
    more = got["params"] - expected["params"]
    params = (f"The parameter count is {got['params']:,}, the reference's {expected['params']:,} "
              f"({abs(more):,} {'more' if more > 0 else 'fewer'})." if more else None)
    outputs = _outputs_in_numbers(got, expected) if shapes == expected_shapes else None
    dropout = None if got["dropout"] is None else list(got["dropout"]) != list(expected["dropout"])
    if shapes == expected_shapes and not params and not dropout and not outputs:
        return None
    numbers = params or outputs
    concatenations = got["concatenations"] is not None and expected["concatenations"] is not None and \
        _concatenation_mistake(got["concatenations"], expected["concatenations"])
    if len(shapes) != len(expected_shapes):
        mistake = (f"{len(shapes)} tensor{'s' * (len(shapes) != 1)} returned, the reference returns "
                   f"{len(expected_shapes)}: {', '.join(map(_size, expected_shapes))}.")
        numbers = f"Shapes returned: {shapes}, the reference's {expected_shapes}."
    elif shapes != expected_shapes:
        index = next(i for i, (g, e) in enumerate(zip(shapes, expected_shapes, strict=True)) if g != e)
        mistake = _shape_mistake(_which(index, len(shapes)), shapes[index], expected_shapes[index])
        numbers = params or f"Shapes returned: {shapes}, the reference's {expected_shapes}."
    elif got["softmax"] and not expected["softmax"]:
        mistake = ("The head applies a softmax (the outputs are non-negative and sum to 1 over the classes): return "
                   "logits, the loss applies it (from_logits=True).")
    elif got["outputs"][-1][2] >= 0 > expected["outputs"][-1][2]:
        mistake = ("The outputs are never negative, the reference's logits are: is there a ReLU or sigmoid after "
                   "the last convolution? Return logits, the loss applies the softmax.")
    elif got["skip_used"] is False and expected["skip_used"]:
        mistake = ("The skip connection is missing: the output does not change when the skip input changes, and "
                   "nothing is concatenated." if got["concatenations"] == [] else "The skip connection is "
                   "concatenated but not used: the output does not change when the skip input changes.")
    elif concatenations:
        mistake = concatenations
    elif params:
        mistake = _weights_mistake(got["weights"], expected["weights"])
    elif outputs:
        mistake = ("Same shapes and parameter count as the reference, but different outputs: check the order "
                   "conv -> (batch norm) -> ReLU, the activations, kernel sizes, strides, padding, and where dropout "
                   "and pooling go.")
    else:
        told = "Dropout is missing" if not got["dropout"] else "Dropout where the reference has none" if not \
            expected["dropout"] else "The dropout rates differ"
        mistake = (f"{told} (it acts only in training: a Dropout(dropout_prob) where dropout_prob > 0, none at 0).")
        numbers = f"Dropout rates: {list(got['dropout'])}, the reference's {list(expected['dropout'])}."
    return "\n".join(line for line in (mistake, numbers) if line)


def _verify(kind: str, title: str, learner: Callable, cases: Sequence[Case]) -> None:
    """Run the learner's block or model function on every case; print a verdict or raise :class:`CheckFailed`."""
    if not callable(learner):
        raise CheckFailed(f"{title}: expected a function to check, got {type(learner).__name__}")
    with recorded_outcome(title, learner):
        for case in cases:
            with learner_errors(title, case.label):
                with no_library_answers(title, learner):
                    built = build(kind, title, learner, case.kwargs)
                got = behaviour(*built)
            difference = behaviour_difference(got, case.expected)
            if difference is not None:
                raise CheckFailed(case_differs_message(title, case.label, difference))
    print(f"✓ {title}: all {len(cases)} cases match what the reference computes.")


def conv_block_cases() -> list[Case]:
    """Inputs to ``conv_block`` covering dropout, pooling and batch normalisation, with the reference's behaviour."""
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
    return [Case(label, (), summarise("block", "conv_block", conv_block, inputs), inputs)
            for label, shape, kwargs in settings for inputs in [{"input_shapes": [shape], "kwargs": kwargs}]]


def conv_block_hidden_cases() -> list[Case]:
    """Graded but not shown: odd sizes, batch normalisation with dropout, and a block without pooling."""
    settings = [("10x14x5 input, 6 filters, dropout 0.2, batch normalisation, pooling", (10, 14, 5),
                 {"n_filters": 6, "dropout_prob": 0.2, "max_pooling": True, "batch_norm": True}),
                ("8x8x4 input, 3 filters, no pooling", (8, 8, 4), {"n_filters": 3, "max_pooling": False})]
    return [Case(label, (), None, {"input_shapes": [shape], "kwargs": kwargs}) for label, shape, kwargs in settings]


def check_conv_block(learner_conv_block: Callable, cases: Sequence[Case] | None = None) -> None:
    """Check that a learner's ``conv_block(inputs, n_filters, dropout_prob, max_pooling, batch_norm)`` computes what
    the reference computes.

    Each case builds a model from a ``keras.Input`` through the learner's block to the ``(next_layer,
    skip_connection)`` it returns, and compares its behaviour (:func:`behaviour`) with the reference's.

    Raises:
        CheckFailed: naming the first case that differs, the mistake, and the numbers.
    """
    _verify("block", "conv_block", learner_conv_block, conv_block_cases() if cases is None else cases)


def upsampling_block_cases() -> list[Case]:
    """Inputs to ``upsampling_block`` at two levels of the MOOC U-Net and one batch-normalised, with the reference's
    behaviour."""
    settings = [
        ("6x8x512 from below, 12x16x256 skip, 256 filters", [(6, 8, 512), (12, 16, 256)], {"n_filters": 256}),
        ("48x64x64 from below, 96x128x32 skip, 32 filters", [(48, 64, 64), (96, 128, 32)], {"n_filters": 32}),
        ("4x4x32 from below, 8x8x16 skip, 16 filters, batch normalisation", [(4, 4, 32), (8, 8, 16)],
         {"n_filters": 16, "batch_norm": True}),
    ]
    return [Case(label, (), summarise("block", "upsampling_block", upsampling_block, inputs), inputs)
            for label, shapes, kwargs in settings for inputs in [{"input_shapes": shapes, "kwargs": kwargs}]]


def upsampling_block_hidden_cases() -> list[Case]:
    """Graded but not shown: another level (3x5x20 from below, 6x10x12 skip, 7 filters), with and without batch
    normalisation."""
    return [Case(f"3x5x20 from below, 6x10x12 skip, 7 filters, batch_norm={batch_norm}", (), None,
                 {"input_shapes": [(3, 5, 20), (6, 10, 12)], "kwargs": {"n_filters": 7, "batch_norm": batch_norm}})
            for batch_norm in (False, True)]


def check_upsampling_block(learner_upsampling_block: Callable, cases: Sequence[Case] | None = None) -> None:
    """Check that a learner's ``upsampling_block(expansive_input, contractive_input, n_filters, batch_norm)``
    computes what the reference computes.

    Raises:
        CheckFailed: naming the first case that differs, the mistake, and the numbers.
    """
    _verify("block", "upsampling_block", learner_upsampling_block,
            upsampling_block_cases() if cases is None else cases)


def unet_model_cases() -> list[Case]:
    """The MOOC's U-Net (96x128x3, 32 filters, 23 classes, depth 4) and two small ones, with their behaviour."""
    settings = [
        ("MOOC defaults: 96x128x3 input, 32 filters, 23 classes",
         {"input_size": (96, 128, 3), "n_filters": 32, "n_classes": 23}),
        ("64x64x3 input, 8 filters, 3 classes, depth 4, batch normalisation, no dropout (lesson 05's training)",
         {"input_size": (64, 64, 3), "n_filters": 8, "n_classes": 3, "depth": 4, "batch_norm": True,
          "dropout_prob": 0.0}),
        ("32x32x3 input, 4 filters, 3 classes, depth 3, dropout 0.5",
         {"input_size": (32, 32, 3), "n_filters": 4, "n_classes": 3, "depth": 3, "dropout_prob": 0.5}),
    ]
    return [Case(label, (), summarise("model", "unet_model", unet_model, kwargs), kwargs) for label, kwargs in settings]


def unet_model_hidden_cases() -> list[Case]:
    """Graded but not shown: a one-channel 32x48 input with 5 classes, and any image size (``None``) at depth 2."""
    return [Case("32x48x1 input, 4 filters, 5 classes", (), None,
                 {"input_size": (32, 48, 1), "n_filters": 4, "n_classes": 5}),
            Case("any size (None, None, 3), 2 filters, 3 classes, depth 2, batch normalisation, no dropout", (), None,
                 {"input_size": (None, None, 3), "n_filters": 2, "n_classes": 3, "depth": 2, "batch_norm": True,
                  "dropout_prob": 0.0})]


def check_unet_model(learner_unet_model: Callable, cases: Sequence[Case] | None = None) -> None:
    """Check that a learner's ``unet_model`` computes what the reference computes.

    The learner's function takes ``(input_size, n_filters, n_classes, depth, batch_norm, dropout_prob)``,
    all with the defaults of :func:`unet_lib.reference.model.unet_model`; the cases pass them by keyword.

    Raises:
        CheckFailed: naming the first case that differs, the mistake, and the numbers.
    """
    _verify("model", "unet_model", learner_unet_model, unet_model_cases() if cases is None else cases)
