"""The U-Net blocks and model, and the self-checks that compare what a learner's Keras code computes (tiny inputs)."""

import importlib.util
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from unet_lib import (
    CheckFailed,
    check_conv_block,
    check_unet_model,
    check_upsampling_block,
    conv_block,
    keras,
    unet_model,
    upsampling_block,
)
from unet_lib.checks import model as checks
from unet_lib.checks.core import Case, ExerciseNotWritten


def _layer_types(model):
    return [type(layer).__name__ for layer in model.layers]


def test_default_model_is_the_mooc_unet():
    model = unet_model()
    assert model.count_params() == 8_640_471
    assert tuple(model.output.shape) == (None, 96, 128, 23)
    types = _layer_types(model)
    assert len(types) == 35 and types.count("Conv2D") == 20 and types.count("Conv2DTranspose") == 4
    assert types.count("Concatenate") == 4 and types.count("Dropout") == 2 and types.count("MaxPooling2D") == 4
    first = model.get_layer("encoder1_conv1")
    assert (first.kernel_size, first.padding, first.activation.__name__, type(first.kernel_initializer).__name__,
            first.count_params()) == ((3, 3), "same", "relu", "HeNormal", 896)
    assert model.get_layer("bottleneck_dropout").rate == 0.3
    assert model.get_layer("decoder1_upsample").count_params() == 1_179_904
    assert model.get_layer("logits").count_params() == 759
    names = [layer.name for layer in model.layers]
    assert names[:4] == ["image", "encoder1_conv1", "encoder1_conv2", "encoder1_pool"]
    assert {"encoder4_dropout", "bottleneck_dropout", "decoder1_upsample", "decoder4_concat", "logits"} <= set(names)


def test_conv_block_shapes_and_options():
    inputs = keras.Input((32, 32, 3))
    next_layer, skip = conv_block(inputs, n_filters=8)
    assert tuple(next_layer.shape) == (None, 16, 16, 8) and tuple(skip.shape) == (None, 32, 32, 8)
    model = keras.Model(inputs, [next_layer, skip])
    assert _layer_types(model) == ["InputLayer", "Conv2D", "Conv2D", "MaxPooling2D"]
    assert model.count_params() == (3 * 9 * 8 + 8) + (8 * 9 * 8 + 8)

    next_layer, skip = conv_block(inputs, n_filters=8, dropout_prob=0.5, max_pooling=False, batch_norm=True,
                                  name="stage")
    assert next_layer is skip and tuple(skip.shape) == (None, 32, 32, 8)
    model = keras.Model(inputs, next_layer)
    assert _layer_types(model) == ["InputLayer", "Conv2D", "BatchNormalization", "Activation",
                                   "Conv2D", "BatchNormalization", "Activation", "Dropout"]
    assert [layer.name for layer in model.layers[1:4]] == ["stage_conv1", "stage_conv1_bn", "stage_conv1_relu"]
    # No bias before batch normalisation: its shift (beta) does that job.
    assert model.get_layer("stage_conv1").count_params() == 3 * 9 * 8


def test_upsampling_block_modes():
    expansive, skip = keras.Input((8, 8, 16)), keras.Input((16, 16, 4))
    for mode, first_types in [("transpose", ["Conv2DTranspose"]), ("resize", ["UpSampling2D", "Conv2D"])]:
        out = upsampling_block(expansive, skip, n_filters=8, upsampling=mode)
        assert tuple(out.shape) == (None, 16, 16, 8)
        types = _layer_types(keras.Model([expansive, skip], out))
        assert [t for t in types if t != "InputLayer"] == first_types + ["Concatenate", "Conv2D", "Conv2D"]
    without_skip = upsampling_block(expansive, None, n_filters=8, upsampling="resize", interpolation="nearest")
    model = keras.Model(expansive, without_skip)
    assert "Concatenate" not in _layer_types(model)
    assert model.layers[1].interpolation == "nearest"


@pytest.mark.parametrize(
    "options",
    [{}, {"batch_norm": True}, {"upsampling": "resize"}, {"skip_connections": False},
     {"depth": 1, "dropout_prob": 0.0}],
)
def test_unet_options_on_tiny_inputs(options):
    options = {"depth": 2, **options}
    model = unet_model((32, 32, 3), n_filters=4, n_classes=3, **options)
    images = np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32)
    logits = keras.ops.convert_to_numpy(model(images, training=False))
    assert logits.shape == (2, 32, 32, 3) and np.isfinite(logits).all()
    types = _layer_types(model)
    assert ("BatchNormalization" in types) == options.get("batch_norm", False)
    assert ("UpSampling2D" in types) == (options.get("upsampling") == "resize")
    assert ("Concatenate" in types) == options.get("skip_connections", True)
    assert ("Dropout" in types) == (options.get("dropout_prob", 0.3) > 0)


def test_skip_connections_add_parameters_only_in_the_decoder():
    with_skips = unet_model((32, 32, 3), n_filters=4, n_classes=3, depth=2)
    without = unet_model((32, 32, 3), n_filters=4, n_classes=3, depth=2, skip_connections=False)
    # decoder1_conv1 sees 8 + 8 channels with the skip, 8 without; decoder2_conv1 4 + 4 vs 4.
    extra = (8 * 9 * 8) + (4 * 9 * 4)
    assert with_skips.count_params() - without.count_params() == extra


def test_odd_size_fails_at_build_time_naming_the_multiple():
    with pytest.raises(ValueError, match=r"height 97 and width 130 must be multiples of 16 .*for example 96x128"):
        unet_model((97, 130, 3))
    with pytest.raises(ValueError, match=r"width 36 must be multiples of 8"):
        unet_model((32, 36, 3), depth=3)
    # Sizes that are multiples work, with output size equal to input size.
    model = unet_model((48, 80, 3), n_filters=2, n_classes=2, depth=4)
    assert tuple(model.output.shape) == (None, 48, 80, 2)


def test_unknown_sizes_are_fully_convolutional():
    model = unet_model((None, None, 3), n_filters=2, n_classes=2, depth=2)
    logits = model(np.zeros((1, 24, 40, 3), np.float32))
    assert tuple(logits.shape) == (1, 24, 40, 2)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: unet_model((32, 32)), "input_size must be"),
        (lambda: unet_model((32, 0, 3)), "input_size must be"),
        (lambda: unet_model((32, 32, 3), n_filters=0), "n_filters must be a positive integer"),
        (lambda: unet_model((32, 32, 3), depth=2.0), "depth must be a positive integer"),
        (lambda: unet_model((32, 32, 3), dropout_prob=1.0), r"dropout_prob must be a number in \[0, 1\)"),
        (lambda: unet_model((32, 32, 3), upsampling="deconv"), "upsampling must be one of"),
        (lambda: unet_model((32, 32, 3), upsampling="resize", interpolation="cubic"), "interpolation must be one of"),
        (lambda: upsampling_block(keras.Input((8, 8, 4)), keras.Input((15, 16, 4))), r"height and width \(16, 16\)"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_save_and_reload_round_trip(tmp_path):
    model = unet_model((32, 32, 3), n_filters=4, n_classes=3, depth=2, batch_norm=True, upsampling="resize")
    images = np.random.default_rng(1).random((2, 32, 32, 3), dtype=np.float32)
    path = tmp_path / "unet.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert _layer_types(reloaded) == _layer_types(model) and reloaded.count_params() == model.count_params()
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(reloaded(images, training=False)),
        keras.ops.convert_to_numpy(model(images, training=False)),
        rtol=1e-5, atol=1e-6,
    )


# Learners' answers, written with Keras alone (the checks refuse answers that call the library). First the
# lessons' own solutions, then answers that compute the same thing written otherwise, then the usual mistakes.

def _conv_relu(x, n_filters, batch_norm, padding="same"):
    if batch_norm:
        x = keras.layers.Conv2D(n_filters, 3, padding=padding, use_bias=False, kernel_initializer="he_normal")(x)
        return keras.layers.Activation("relu")(keras.layers.BatchNormalization()(x))
    return keras.layers.Conv2D(n_filters, 3, padding=padding, activation="relu", kernel_initializer="he_normal")(x)


def _learners_conv_block(inputs, n_filters=32, dropout_prob=0.0, max_pooling=True, batch_norm=False):
    x = _conv_relu(_conv_relu(inputs, n_filters, batch_norm), n_filters, batch_norm)
    if dropout_prob > 0:
        x = keras.layers.Dropout(dropout_prob)(x)
    return (keras.layers.MaxPooling2D()(x) if max_pooling else x), x


def _learners_upsampling_block(expansive_input, contractive_input, n_filters=32, batch_norm=False):
    x = keras.layers.Conv2DTranspose(n_filters, 3, strides=2, padding="same")(expansive_input)
    x = keras.layers.Concatenate()([x, contractive_input])
    return _conv_relu(_conv_relu(x, n_filters, batch_norm), n_filters, batch_norm)


def _learners_unet_model(input_size=(96, 128, 3), n_filters=32, n_classes=23, depth=4, batch_norm=False,
                         dropout_prob=0.3, conv_block=_learners_conv_block, upsampling_block=_learners_upsampling_block,
                         head=None):
    inputs = keras.Input(input_size)
    x, skips = inputs, []
    for level in range(depth):
        x, skip = conv_block(x, n_filters * 2**level, dropout_prob if level == depth - 1 else 0.0,
                             batch_norm=batch_norm)
        skips.append(skip)
    x, _ = conv_block(x, n_filters * 2**depth, dropout_prob, max_pooling=False, batch_norm=batch_norm)
    for level in reversed(range(depth)):
        x = upsampling_block(x, skips[level], n_filters * 2**level, batch_norm=batch_norm)
    x = _conv_relu(x, n_filters, batch_norm)
    return keras.Model(inputs, (head or keras.layers.Conv2D(n_classes, 1, padding="same"))(x))


def _conv_block_written_otherwise(inputs, n_filters=32, dropout_prob=0.0, max_pooling=True, batch_norm=False):
    # Layers made first, in reverse order, with names of its own and no initialiser; ReLU layers; a Dropout that
    # is there even at rate 0.
    pool, dropout = keras.layers.MaxPooling2D(2, name=f"my_pool{n_filters}"), keras.layers.Dropout(dropout_prob)
    convs = [keras.layers.Conv2D(n_filters, (3, 3), padding="same", use_bias=not batch_norm,
                                 name=f"my_conv{i}_{n_filters}") for i in (2, 1)][::-1]
    x = inputs
    for conv in convs:
        x = conv(x)
        x = keras.layers.ReLU()(keras.layers.BatchNormalization(name=f"{conv.name}_bn")(x) if batch_norm else x)
    skip = dropout(x)
    return (pool(skip) if max_pooling else skip), skip


def _upsampling_block_written_otherwise(expansive_input, contractive_input, n_filters=32, batch_norm=False):
    # keras.ops.concatenate and keras.ops.relu; the convolutions made before the transposed convolution.
    convs = [keras.layers.Conv2D(n_filters, 3, padding="same", use_bias=not batch_norm) for _ in range(2)]
    up = keras.layers.Conv2DTranspose(n_filters, (3, 3), strides=(2, 2), padding="same",
                                      name=f"up{n_filters}")(expansive_input)
    x = keras.ops.concatenate([up, contractive_input], axis=3)
    for conv in convs:
        x = keras.ops.relu(keras.layers.BatchNormalization()(conv(x)) if batch_norm else conv(x))
    return x


def _recursive_unet_model(input_size=(96, 128, 3), n_filters=32, n_classes=23, depth=4, batch_norm=False,
                          dropout_prob=0.3):
    # The U-Net as a recursion, one level inside the next, with the blocks written otherwise.
    def level(x, filters, remaining):
        if remaining == 0:
            return _conv_block_written_otherwise(x, filters, dropout_prob, max_pooling=False, batch_norm=batch_norm)[0]
        below, skip = _conv_block_written_otherwise(x, filters, dropout_prob if remaining == 1 else 0.0,
                                                    batch_norm=batch_norm)
        return _upsampling_block_written_otherwise(level(below, 2 * filters, remaining - 1), skip, filters, batch_norm)

    inputs = keras.Input(input_size, name="pixels")
    x = _conv_relu(level(inputs, n_filters, depth), n_filters, batch_norm)
    return keras.Model(inputs, keras.layers.Conv2D(n_classes, (1, 1), name="class_scores")(x))


def _unrolled_unet_model(input_size=(96, 128, 3), n_filters=32, n_classes=23, depth=4, batch_norm=False,
                         dropout_prob=0.3):
    # Depth 4 written out block by block, no loop (the cases of other depths are not given to it).
    assert depth == 4
    f = n_filters
    inputs = keras.Input(input_size)
    p1, s1 = _learners_conv_block(inputs, f, batch_norm=batch_norm)
    p2, s2 = _learners_conv_block(p1, 2 * f, batch_norm=batch_norm)
    p3, s3 = _learners_conv_block(p2, 4 * f, batch_norm=batch_norm)
    p4, s4 = _learners_conv_block(p3, 8 * f, dropout_prob, batch_norm=batch_norm)
    b, _ = _learners_conv_block(p4, 16 * f, dropout_prob, max_pooling=False, batch_norm=batch_norm)
    u = _upsampling_block_written_otherwise(b, s4, 8 * f, batch_norm)
    u = _learners_upsampling_block(u, s3, 4 * f, batch_norm)
    u = _upsampling_block_written_otherwise(u, s2, 2 * f, batch_norm)
    u = _learners_upsampling_block(u, s1, f, batch_norm)
    return keras.Model(inputs, keras.layers.Conv2D(n_classes, 1)(_conv_relu(u, f, batch_norm)))


def _with_the_references_answers(exercise, cases):
    """``cases`` (inputs only, as hidden cases are declared) with the reference's summary as the expected answer."""
    kind = checks.GRADED[exercise]["kind"]
    reference = {"conv_block": conv_block, "upsampling_block": upsampling_block, "unet_model": unet_model}[exercise]
    return [Case(case.label, case.args, checks.summarise(kind, exercise, reference, case.kwargs), case.kwargs)
            for case in cases]


CHECKS = {"conv_block": check_conv_block, "upsampling_block": check_upsampling_block, "unet_model": check_unet_model}


@pytest.mark.parametrize(("exercise", "learner"), [
    ("conv_block", _learners_conv_block), ("conv_block", _conv_block_written_otherwise),
    ("upsampling_block", _learners_upsampling_block), ("upsampling_block", _upsampling_block_written_otherwise),
    ("unet_model", _learners_unet_model), ("unet_model", _recursive_unet_model),
])
def test_an_answer_that_computes_what_the_reference_computes_passes_the_visible_and_hidden_cases(exercise, learner,
                                                                                                capsys):
    CHECKS[exercise](learner)
    CHECKS[exercise](learner, _with_the_references_answers(exercise, getattr(checks, f"{exercise}_hidden_cases")()))
    assert capsys.readouterr().out.count(f"✓ {exercise}: all") == 2


def test_a_unet_written_out_level_by_level_passes_the_depth_4_cases():
    cases = [case for case in checks.unet_model_cases() if case.kwargs.get("depth", 4) == 4]
    assert len(cases) == 2
    check_unet_model(_unrolled_unet_model, cases)


def test_the_lessons_solutions_pass():
    # Lessons 02 and 03's answer cells, as written there (unet_model calls the conv_block and upsampling_block
    # defined beside it).
    check_conv_block(_learners_conv_block)
    check_upsampling_block(_learners_upsampling_block)
    check_unet_model(_learners_unet_model)


# The usual mistakes. Each is told in words, after the case and before the numbers.

def _swapped_upsampling_block(expansive_input, contractive_input, n_filters=32, batch_norm=False):
    x = keras.layers.Conv2DTranspose(n_filters, 3, strides=2, padding="same")(expansive_input)
    x = keras.layers.Concatenate()([contractive_input, x])
    return _conv_relu(_conv_relu(x, n_filters, batch_norm), n_filters, batch_norm)


def _upsampling_block_without_skip(expansive_input, contractive_input, n_filters=32, batch_norm=False):
    x = keras.layers.Conv2DTranspose(n_filters, 3, strides=2, padding="same")(expansive_input)
    return _conv_relu(_conv_relu(x, n_filters, batch_norm), n_filters, batch_norm)


def _upsampling_block_ignoring_skip(expansive_input, contractive_input, n_filters=32, batch_norm=False):
    x = keras.layers.Conv2DTranspose(n_filters, 3, strides=2, padding="same")(expansive_input)
    x = keras.layers.Concatenate()([x, contractive_input * 0.0])
    return _conv_relu(_conv_relu(x, n_filters, batch_norm), n_filters, batch_norm)


def _pytorch_style_upsampling_block(expansive_input, contractive_input, n_filters=32, batch_norm=False):
    x = keras.layers.Conv2DTranspose(n_filters, 3, strides=2, padding="same")(expansive_input)
    x = keras.layers.Concatenate()([x, contractive_input])
    return _conv_relu(_conv_relu(x, n_filters, batch_norm, "valid"), n_filters, batch_norm, "valid")


def _upsampling_block_one_filter_more(expansive_input, contractive_input, n_filters=32, batch_norm=False):
    return _learners_upsampling_block(expansive_input, contractive_input, n_filters + 1, batch_norm)


def _conv_block_without_batch_norm(inputs, n_filters=32, dropout_prob=0.0, max_pooling=True, batch_norm=False):
    return _learners_conv_block(inputs, n_filters, dropout_prob, max_pooling, batch_norm=False)


def _conv_block_with_bias_before_batch_norm(inputs, n_filters=32, dropout_prob=0.0, max_pooling=True,
                                            batch_norm=False):
    x = inputs
    for _ in range(2):
        x = keras.layers.Conv2D(n_filters, 3, padding="same")(x)
        x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x) if batch_norm else x)
    if dropout_prob > 0:
        x = keras.layers.Dropout(dropout_prob)(x)
    return (keras.layers.MaxPooling2D()(x) if max_pooling else x), x


def _conv_block_relu_before_batch_norm(inputs, n_filters=32, dropout_prob=0.0, max_pooling=True, batch_norm=False):
    x = inputs
    for _ in range(2):
        x = keras.layers.Conv2D(n_filters, 3, padding="same", use_bias=not batch_norm, activation="relu")(x)
        x = keras.layers.BatchNormalization()(x) if batch_norm else x
    if dropout_prob > 0:
        x = keras.layers.Dropout(dropout_prob)(x)
    return (keras.layers.MaxPooling2D()(x) if max_pooling else x), x


def _conv_block_returning_pooled_skip(inputs, n_filters=32, dropout_prob=0.0, max_pooling=True, batch_norm=False):
    next_layer, _ = _learners_conv_block(inputs, n_filters, dropout_prob, max_pooling, batch_norm)
    return next_layer, next_layer


def _conv_block_without_dropout(inputs, n_filters=32, dropout_prob=0.0, max_pooling=True, batch_norm=False):
    return _learners_conv_block(inputs, n_filters, 0.0, max_pooling, batch_norm)


def _unet_with_softmax(**kwargs):
    n_classes = kwargs.get("n_classes", 23)
    return _learners_unet_model(**kwargs, head=keras.layers.Conv2D(n_classes, 1, activation="softmax"))


def _unet_with_swapped_concatenations(**kwargs):
    return _learners_unet_model(**kwargs, upsampling_block=_swapped_upsampling_block)


def _unet_without_the_deepest_skip(**kwargs):
    def upsampling(expansive_input, contractive_input, n_filters, batch_norm):
        deepest = expansive_input.shape[1] is not None and expansive_input.shape[1] * 2 == 12
        return (_upsampling_block_without_skip if deepest else _learners_upsampling_block)(
            expansive_input, contractive_input, n_filters, batch_norm)

    return _learners_unet_model(**kwargs, upsampling_block=upsampling)


def _unet_with_one_class_less(**kwargs):
    return _learners_unet_model(**{**kwargs, "n_classes": kwargs.get("n_classes", 23) - 1})


def _unet_with_a_narrow_bottleneck(**kwargs):
    def block(x, n_filters, dropout_prob=0.0, max_pooling=True, batch_norm=False):
        return _learners_conv_block(x, n_filters if max_pooling else n_filters // 2, dropout_prob, max_pooling,
                                    batch_norm)

    return _learners_unet_model(**kwargs, conv_block=block)


MISTAKES = [
    (check_upsampling_block, _swapped_upsampling_block, "6x8x512 from below",
     "The concatenation puts the skip connection first"),
    (check_upsampling_block, _upsampling_block_without_skip, "6x8x512 from below",
     "The skip connection is missing"),
    (check_upsampling_block, _upsampling_block_ignoring_skip, "6x8x512 from below",
     "The skip connection is concatenated but not used"),
    (check_upsampling_block, _pytorch_style_upsampling_block, "6x8x512 from below",
     'something crops or a convolution uses padding="valid"'),
    (check_upsampling_block, _upsampling_block_one_filter_more, "6x8x512 from below",
     "257 channels, the reference's 256 (1 more: an off-by-one"),
    (check_conv_block, _conv_block_without_batch_norm, "batch normalisation",
     "Batch normalisation is missing"),
    (check_conv_block, _conv_block_with_bias_before_batch_norm, "batch normalisation",
     "The convolutions before batch normalisation have a bias"),
    (check_conv_block, _conv_block_relu_before_batch_norm, "batch normalisation",
     "Same shapes and parameter count as the reference, but different outputs"),
    (check_conv_block, _conv_block_returning_pooled_skip, "96x128x3 input",
     "half the size"),
    (check_conv_block, _conv_block_without_dropout, "dropout 0.3",
     "Dropout is missing"),
    (check_unet_model, _unet_with_softmax, "MOOC defaults",
     "The head applies a softmax"),
    (check_unet_model, _unet_with_swapped_concatenations, "MOOC defaults",
     "The concatenation at 12x16 puts the skip connection first"),
    (check_unet_model, _unet_without_the_deepest_skip, "MOOC defaults",
     "The model concatenates 3 times, the reference 4 times"),
    (check_unet_model, _unet_with_one_class_less, "MOOC defaults",
     "22 channels, the reference's 23 (1 fewer: an off-by-one"),
    (check_unet_model, _unet_with_a_narrow_bottleneck, "MOOC defaults",
     "The weights differ: the reference has"),
]


@pytest.mark.parametrize(("check", "learner", "case", "mistake"), MISTAKES,
                         ids=[learner.__name__.strip("_") for _, learner, _, _ in MISTAKES])
def test_each_usual_mistake_is_named_after_its_case_and_before_the_numbers(check, learner, case, mistake):
    with pytest.raises(CheckFailed) as failure:
        check(learner)
    message = str(failure.value)
    header, named, *numbers = message.splitlines()
    assert header.startswith(f"{check.__name__.removeprefix('check_')}: case '") and case in header, message
    assert header.endswith("differs from the reference:"), message
    assert mistake in named, message
    assert numbers and any(char.isdigit() for char in "".join(numbers)), message


def test_the_numbers_say_by_how_much():
    for check, learner, numbers in [
        (check_conv_block, _conv_block_without_batch_norm,
         "The parameter count is 808, the reference's 856 (48 fewer)"),
        (check_unet_model, _unet_with_one_class_less, "The parameter count is 8,640,438, the reference's 8,640,471 "
                                                      "(33 fewer)"),
        (check_upsampling_block, _pytorch_style_upsampling_block, "The output is 8x12 pixels, the reference's 12x16: "
                                                                  "4 pixels smaller"),
    ]:
        with pytest.raises(CheckFailed) as failure:
            check(learner)
        assert numbers in str(failure.value), str(failure.value)


def test_a_check_passes_within_float_tolerance_and_fails_beyond():
    case = checks.upsampling_block_cases()[0]
    summary = case.expected
    assert checks.behaviour_difference(summary, summary) is None
    for factor, passes in ((1 + 2e-6, True), (1 + 3e-3, False)):
        scaled = {**summary, "outputs": [values * factor for values in summary["outputs"]]}
        assert (checks.behaviour_difference(scaled, summary) is None) == passes


@pytest.mark.parametrize("check", [check_conv_block, check_upsampling_block, check_unet_model])
def test_an_answer_that_calls_the_library_fails_however_it_is_named(check):
    reference = {check_conv_block: conv_block, check_upsampling_block: upsampling_block,
                 check_unet_model: unet_model}[check]

    def calls_the_reference(*args, **kwargs):
        return reference(*args, **kwargs)

    called = f"unet_lib.reference.model.{reference.__name__}"
    with pytest.raises(CheckFailed, match=f"the answer calls the course library's {called}"):
        check(calls_the_reference)


@pytest.mark.parametrize("check", [check_conv_block, check_upsampling_block, check_unet_model])
def test_an_exercise_not_written_yet_says_so(check):
    def stub(*args, **kwargs):
        raise NotImplementedError()

    with pytest.raises(ExerciseNotWritten, match="not written yet"):
        check(stub)


@pytest.mark.parametrize(
    ("check", "learner", "message"),
    [
        (check_upsampling_block, lambda *args, **kwargs: "a string", "expected Keras tensors to be returned"),
        (check_unet_model, lambda **kwargs: "a model", "expected a keras.Model to be returned"),
        (check_unet_model, lambda **kwargs: 1 / 0, "raised ZeroDivisionError"),
        (check_conv_block, 42, "expected a function to check, got int"),
    ],
)
def test_what_is_not_a_block_or_model_is_told(check, learner, message):
    with pytest.raises(CheckFailed, match=message):
        check(learner)


def test_recorded_answers_are_small_plain_data_that_survives_a_python_literal():
    from course_tools import plain_data
    from course_tools.release import python_literal

    for exercise in ("conv_block", "upsampling_block", "unet_model"):
        for case in getattr(checks, f"{exercise}_cases")():
            literal = python_literal(case.expected)
            assert len(literal) < 5000, (case.label, len(literal))
            plain_data.encode(case.expected)
            assert checks.behaviour_difference(eval(literal, {"np": np}), case.expected) is None  # noqa: S307
    mooc = checks.unet_model_cases()[0].expected
    assert mooc["params"] == 8_640_471 and mooc["shapes"] == [(96, 128, 23)]


def test_the_grader_compares_with_the_same_function_and_the_same_words():
    from course_tools.grade import outcome_difference
    from course_tools.sandbox_harness import outcome

    case = checks.upsampling_block_cases()[0]
    expected = {"value": case.expected}
    inputs = {"args": (), "kwargs": case.kwargs, "package": "unet_lib"}
    solved = outcome("block", "upsampling_block", _upsampling_block_written_otherwise, inputs)
    assert outcome_difference("block", solved, expected) is None
    swapped = outcome("block", "upsampling_block", _swapped_upsampling_block, inputs)
    assert outcome_difference("block", swapped, expected).startswith("The concatenation puts the skip connection first")
    with pytest.raises(CheckFailed) as failure:
        check_upsampling_block(_swapped_upsampling_block, [case])
    assert outcome_difference("block", swapped, expected) in str(failure.value)


@pytest.mark.extended
def test_the_behaviour_summary_is_the_same_on_every_backend():
    """The reference's summaries computed under each other backend match those computed here, within the checks' own
    tolerances (recorded under one backend, a check runs under another)."""
    script = ("import pickle, sys; from unet_lib.checks import model as m; "
              "sys.stdout.buffer.write(pickle.dumps([[c.expected for c in f()] for f in "
              "(m.conv_block_cases, m.upsampling_block_cases, m.unet_model_cases)]))")
    here = [[case.expected for case in cases()] for cases in (checks.conv_block_cases, checks.upsampling_block_cases,
                                                               checks.unet_model_cases)]
    for backend in ("tensorflow", "jax", "torch"):
        if backend == keras.backend.backend() or importlib.util.find_spec(backend) is None:
            continue
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True,
                              env={**os.environ, "KERAS_BACKEND": backend})
        there = pickle.loads(done.stdout)
        for cases_here, cases_there in zip(here, there, strict=True):
            for got, expected in zip(cases_there, cases_here, strict=True):
                assert checks.behaviour_difference(got, expected) is None, backend
