"""The U-Net blocks and model, and the layer-by-layer self-checks built on them (tiny inputs)."""

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
from unet_lib.checks.core import Case, first_layer_difference
from unet_lib.checks.model import conv_block_cases, layer_summary, unet_model_cases


def _layer_types(model):
    return [type(layer).__name__ for layer in model.layers]


def test_default_model_is_the_mooc_unet():
    model = unet_model()
    assert model.count_params() == 8_640_471
    assert tuple(model.output.shape) == (None, 96, 128, 23)
    summary = layer_summary(model)
    assert len(summary) == 35
    assert summary[1] == ("Conv2D", (None, 96, 128, 32), 896, "3x3 stride 1 same relu HeNormal")
    assert summary[16] == ("Dropout", (None, 6, 8, 512), 0, "rate 0.3")
    assert summary[17] == ("Conv2DTranspose", (None, 12, 16, 256), 1_179_904, "3x3 stride 2 same linear GlorotUniform")
    assert summary[-1] == ("Conv2D", (None, 96, 128, 23), 759, "1x1 stride 1 same linear GlorotUniform")
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
    assert layer_summary(reloaded) == layer_summary(model)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(reloaded(images, training=False)),
        keras.ops.convert_to_numpy(model(images, training=False)),
        rtol=1e-5, atol=1e-6,
    )


def test_expected_answers_are_plain_data():
    for case in conv_block_cases() + unet_model_cases():
        for row in case.expected["layers"]:
            kind, shape, n_params, settings = row
            assert isinstance(kind, str) and isinstance(n_params, int) and isinstance(settings, str)
            assert all(side is None or type(side) is int for side in shape)


def _conv_block_with_glorot(inputs, n_filters=32, dropout_prob=0.0, max_pooling=True):
    x = keras.layers.Conv2D(n_filters, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(n_filters, 3, padding="same", activation="relu", kernel_initializer="he_normal")(x)
    if dropout_prob > 0:
        x = keras.layers.Dropout(dropout_prob)(x)
    return (keras.layers.MaxPooling2D()(x) if max_pooling else x), x


def _learners_conv_relu(x, n_filters, batch_norm):
    # A learner's answer, written with Keras alone (the checks refuse answers that call the library).
    if batch_norm:
        x = keras.layers.Conv2D(n_filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal")(x)
        return keras.layers.Activation("relu")(keras.layers.BatchNormalization()(x))
    return keras.layers.Conv2D(n_filters, 3, padding="same", activation="relu", kernel_initializer="he_normal")(x)


def _learners_conv_block(inputs, n_filters=32, dropout_prob=0.0, max_pooling=True, batch_norm=False):
    x = _learners_conv_relu(_learners_conv_relu(inputs, n_filters, batch_norm), n_filters, batch_norm)
    if dropout_prob > 0:
        x = keras.layers.Dropout(dropout_prob)(x)
    return (keras.layers.MaxPooling2D()(x) if max_pooling else x), x


def _learners_upsampling_block(expansive_input, contractive_input, n_filters=32, batch_norm=False):
    x = keras.layers.Conv2DTranspose(n_filters, 3, strides=2, padding="same")(expansive_input)
    x = keras.layers.Concatenate()([x, contractive_input])
    return _learners_conv_relu(_learners_conv_relu(x, n_filters, batch_norm), n_filters, batch_norm)


def _learners_unet_model(input_size=(96, 128, 3), n_filters=32, n_classes=23, depth=4, batch_norm=False,
                         dropout_prob=0.3):
    inputs = keras.Input(input_size)
    x, skips = inputs, []
    for level in range(depth):
        x, skip = _learners_conv_block(x, n_filters * 2**level, dropout_prob if level == depth - 1 else 0.0,
                                       batch_norm=batch_norm)
        skips.append(skip)
    x, _ = _learners_conv_block(x, n_filters * 2**depth, dropout_prob, max_pooling=False, batch_norm=batch_norm)
    for level in reversed(range(depth)):
        x = _learners_upsampling_block(x, skips[level], n_filters * 2**level, batch_norm)
    x = _learners_conv_relu(x, n_filters, batch_norm)
    return keras.Model(inputs, keras.layers.Conv2D(n_classes, 1, padding="same")(x))


def _conv_block_returning_pooled_skip(inputs, n_filters=32, dropout_prob=0.0, max_pooling=True, batch_norm=False):
    next_layer, _ = _learners_conv_block(inputs, n_filters, dropout_prob, max_pooling, batch_norm)
    return next_layer, next_layer


def _unet_without_head_conv(input_size=(96, 128, 3), n_filters=32, n_classes=23, depth=4, batch_norm=False,
                            dropout_prob=0.3):
    inputs = keras.Input(input_size)
    x, skips = inputs, []
    for level in range(4):
        x, skip = _learners_conv_block(x, n_filters * 2**level, dropout_prob=0.3 if level == 3 else 0.0)
        skips.append(skip)
    x, _ = _learners_conv_block(x, n_filters * 16, dropout_prob=0.3, max_pooling=False)
    for level in range(4):
        x = _learners_upsampling_block(x, skips[3 - level], n_filters * 2 ** (3 - level))
    return keras.Model(inputs, keras.layers.Conv2D(n_classes, 1, padding="same")(x))


def _with_the_references_answers(cases, summarise):
    """``cases`` (inputs only, as hidden cases are declared) with the reference's summary as the expected answer."""
    return [Case(case.label, case.args, summarise(**case.kwargs), case.kwargs) for case in cases]


def test_a_unet_written_with_the_learners_keras_code_passes_the_visible_and_the_hidden_cases():
    from unet_lib.checks import model as checks

    check_conv_block(_learners_conv_block)
    check_upsampling_block(_learners_upsampling_block)
    check_unet_model(_learners_unet_model)

    def block(reference):
        return lambda input_shapes, kwargs: checks.summarise_block("", reference, input_shapes, kwargs)

    check_conv_block(_learners_conv_block, _with_the_references_answers(checks.conv_block_hidden_cases(),
                                                                          block(conv_block)))
    check_upsampling_block(_learners_upsampling_block, _with_the_references_answers(
        checks.upsampling_block_hidden_cases(), block(upsampling_block)))
    check_unet_model(_learners_unet_model, _with_the_references_answers(
        checks.unet_model_hidden_cases(), lambda **kwargs: checks.summarise_model("", unet_model, kwargs)))


@pytest.mark.parametrize("check", [check_conv_block, check_upsampling_block, check_unet_model])
def test_an_answer_that_calls_the_library_fails_however_it_is_named(check):
    reference = {check_conv_block: conv_block, check_upsampling_block: upsampling_block,
                 check_unet_model: unet_model}[check]

    def calls_the_reference(*args, **kwargs):
        return reference(*args, **kwargs)

    called = f"unet_lib.reference.model.{reference.__name__}"
    with pytest.raises(CheckFailed, match=f"the answer calls the course library's {called}"):
        check(calls_the_reference)


@pytest.mark.parametrize(
    ("check", "learner", "message"),
    [
        (check_conv_block, _conv_block_with_glorot,
         "layer 1 differs (settings: expected '3x3 stride 1 same relu HeNormal', got '3x3 stride 1 same relu "
         "GlorotUniform')"),
        (check_conv_block, _conv_block_returning_pooled_skip,
         "the tensors returned have shapes [(None, 48, 64, 32), (None, 48, 64, 32)], the reference's "
         "[(None, 48, 64, 32), (None, 96, 128, 32)]"),
        (check_unet_model, _unet_without_head_conv,
         "layer 33 differs (output shape: item 3: expected 32, got 23)"),
        (check_upsampling_block, lambda *args, **kwargs: "a string", "expected Keras tensors to be returned"),
        (check_unet_model, lambda **kwargs: 1 / 0, "raised ZeroDivisionError"),
    ],
)
def test_checks_report_the_first_difference(check, learner, message):
    with pytest.raises(CheckFailed) as failure:
        check(learner)
    assert message in str(failure.value)


def test_first_layer_difference_on_missing_and_extra_layers():
    rows = [("InputLayer", (None, 4, 4, 1), 0, ""), ("Dropout", (None, 4, 4, 1), 0, "rate 0.5")]
    assert first_layer_difference(rows, rows) is None
    assert "the first one missing is layer 1" in first_layer_difference(rows[:1], rows)
    assert "the first extra one is layer 1" in first_layer_difference(rows, rows[:1])
