"""The U-Net blocks and model, and the layer-by-layer self-checks built on them (tiny inputs)."""

import numpy as np
import pytest

from unet_lib import (
    CheckFailed,
    check_conv_block,
    check_unet_model,
    check_upsampling_block,
    conv_block,
    layer_summary,
    make_unet,
    unet_model,
    upsampling_block,
)
from unet_lib._keras import keras
from unet_lib.checks.model import conv_block_cases, first_layer_difference, unet_model_cases
from unet_lib.model import UNET_STRUCTURES, unet_structure


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


def test_checks_pass_for_the_reference():
    check_conv_block(conv_block)
    check_upsampling_block(upsampling_block)
    check_unet_model(unet_model)


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


def _conv_block_returning_pooled_skip(inputs, n_filters=32, dropout_prob=0.0, max_pooling=True):
    next_layer, _ = conv_block(inputs, n_filters, dropout_prob, max_pooling)
    return next_layer, next_layer


def _unet_without_head_conv(input_size=(96, 128, 3), n_filters=32, n_classes=23):
    inputs = keras.Input(input_size)
    x, skips = inputs, []
    for level in range(4):
        x, skip = conv_block(x, n_filters * 2**level, dropout_prob=0.3 if level == 3 else 0.0)
        skips.append(skip)
    x, _ = conv_block(x, n_filters * 16, dropout_prob=0.3, max_pooling=False)
    for level in range(4):
        x = upsampling_block(x, skips[3 - level], n_filters * 2 ** (3 - level))
    return keras.Model(inputs, keras.layers.Conv2D(n_classes, 1, padding="same")(x))


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


def _structure_options(structure):
    settings = dict(item.split("=") for item in structure.split())
    return dict(depth=int(settings["depth"]), batch_norm=settings["batch_norm"] == "True",
                upsampling=settings["upsampling"], skip_connections=settings["skip_connections"] == "True",
                dropout_prob=0.25 if settings["dropout"] == "True" else 0.0)


def test_unet_structures_cover_every_option_at_depths_1_to_5():
    assert len(UNET_STRUCTURES) == len(set(UNET_STRUCTURES)) == 5 * 2 * 2 * 2
    assert {_structure_options(s)["depth"] for s in UNET_STRUCTURES} == {1, 2, 3, 4, 5}


# Every flag combination at the shallowest and at the course's depth (all 40 would add a minute).
@pytest.mark.parametrize("structure", [s for s in UNET_STRUCTURES if s.startswith(("depth=1 ", "depth=4 "))])
def test_make_unet_builds_what_unet_model_builds(structure):
    options = _structure_options(structure)
    assert unet_structure(**options) == structure
    made = make_unet((32, 48, 1), n_filters=4, n_classes=5, name="made", **options)
    reference = unet_model((32, 48, 1), n_filters=4, n_classes=5, name="made", **options)
    assert layer_summary(made) == layer_summary(reference)
    assert made.name == "made"
    assert [layer.name for layer in made.layers] == [layer.name for layer in reference.layers]


def test_make_unet_gives_fresh_weights_and_follows_the_dtype_policy():
    first, second = (make_unet((16, 16, 3), 4, 3, batch_norm=True, dropout_prob=0.0) for _ in range(2))
    assert not np.allclose(first.get_layer("encoder1_conv1").get_weights()[0],
                           second.get_layer("encoder1_conv1").get_weights()[0])
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        mixed = make_unet((16, 16, 3), 4, 3, batch_norm=True, dropout_prob=0.0)
    finally:
        keras.config.set_dtype_policy(previous)
    assert mixed.get_layer("encoder1_conv1").dtype_policy.name == "mixed_float16"
    assert mixed.get_layer("logits").dtype_policy.name == "float32"


def test_a_seed_gives_the_same_weights_whether_or_not_the_structure_was_drawn_before():
    """The first make_unet of a structure draws its graph (a model build); that must not use up seeded randomness."""
    from unet_lib.checks.model import _draw_architecture
    from unet_lib.environment import set_seed

    def seeded_kernel():
        set_seed(5)
        return make_unet((16, 16, 3), 2, 3, depth=3, dropout_prob=0.0).get_layer("encoder1_conv1").get_weights()[0]

    _draw_architecture.cache_clear()
    np.testing.assert_array_equal(seeded_kernel(), seeded_kernel())


def test_make_unet_refuses_other_structures_and_bad_sizes():
    with pytest.raises(ValueError, match="structure 'depth=6 .*make_unet does not build.*Use unet_model"):
        make_unet((64, 64, 3), depth=6)
    with pytest.raises(ValueError, match="structure '.*upsampling=resize.*make_unet does not build"):
        make_unet((16, 16, 3), upsampling="resize")
    with pytest.raises(ValueError, match="must be multiples of 16"):
        make_unet((19, 19, 3), n_classes=3)
    with pytest.raises(ValueError, match="upsampling must be one of"):
        make_unet(upsampling="deconv")
