"""The MobileNetV2 U-Net: shapes, skip layers, preprocessing, freezing and unfreezing, bad input."""

import numpy as np
import pytest

from unet_lib import keras
from unet_lib.pretrained import (
    ENCODER_NAME,
    PREPROCESS_LAYER,
    SKIP_LAYERS,
    mobilenet_unet,
    set_encoder_trainable,
)

SMALL = dict(alpha=0.35, decoder_filters=(16, 16, 8, 8))  # small and fast: the tests need no real capacity


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return mobilenet_unet((64, 64, 3), n_classes=3, **SMALL)


def test_shapes_skips_and_float32_logits(model):
    assert model.input_shape == (None, 64, 64, 3) and model.output_shape == (None, 64, 64, 3)
    assert model.get_layer("logits").dtype_policy.compute_dtype == "float32"
    encoder = model.get_layer(ENCODER_NAME)
    # The named skip layers exist in Keras 3's MobileNetV2, at strides 2 to 32 of the 64x64 input.
    sides = [encoder.get_layer(name).output.shape[1:3] for name in SKIP_LAYERS]
    assert sides == [(32, 32), (16, 16), (8, 8), (4, 4), (2, 2)]
    assert [tuple(output.shape[1:3]) for output in encoder.outputs] == sides
    logits = model.predict_on_batch(np.zeros((2, 64, 64, 3), np.float32))
    assert tuple(logits.shape) == (2, 64, 64, 3) and keras.ops.convert_to_numpy(logits).dtype == np.float32


def test_any_size_model_and_a_binary_head():
    any_size = mobilenet_unet((None, None, 3), n_classes=1, **SMALL)
    assert tuple(any_size.predict_on_batch(np.zeros((1, 96, 64, 3), np.float32)).shape) == (1, 96, 64, 1)


def test_preprocessing_layer_matches_mobilenet_preprocess_input(model):
    pixels = np.random.default_rng(0).random((1, 4, 4, 3), dtype=np.float32)
    scaled = keras.ops.convert_to_numpy(model.get_layer(PREPROCESS_LAYER)(pixels))
    expected = keras.ops.convert_to_numpy(keras.applications.mobilenet_v2.preprocess_input(pixels * 255.0))
    np.testing.assert_allclose(scaled, expected, atol=1e-5)
    assert scaled.min() >= -1 and scaled.max() <= 1


def _train_step(model, learning_rate=1e-2):
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(1)
    images = rng.random((4, 64, 64, 3), dtype=np.float32)
    masks = rng.integers(0, 3, (4, 64, 64)).astype(np.int32)
    model.fit(images, masks, batch_size=4, epochs=1, verbose=0)


def test_frozen_encoder_stays_fixed_while_the_decoder_trains_then_unfreezing_trains_it():
    keras.utils.set_random_seed(0)
    model = mobilenet_unet((64, 64, 3), n_classes=3, **SMALL)
    encoder = model.get_layer(ENCODER_NAME)
    assert encoder.trainable is False and not encoder.trainable_weights
    # Moving statistics included: a frozen encoder's batch normalisation runs in inference mode.
    encoder_before = [keras.ops.convert_to_numpy(w) for w in encoder.weights]
    decoder_before = keras.ops.convert_to_numpy(model.get_layer("logits").kernel)
    _train_step(model)
    assert all(np.array_equal(before, keras.ops.convert_to_numpy(after))
               for before, after in zip(encoder_before, encoder.weights, strict=True))
    assert not np.array_equal(decoder_before, keras.ops.convert_to_numpy(model.get_layer("logits").kernel))

    assert set_encoder_trainable(model, True) is model and encoder.trainable
    trainable_before = [keras.ops.convert_to_numpy(w) for w in encoder.trainable_weights]
    assert trainable_before, "an unfrozen encoder has trainable weights"
    _train_step(model, learning_rate=1e-3)  # compiled again: Keras reads trainable when compiling
    changed = [not np.array_equal(before, keras.ops.convert_to_numpy(after))
               for before, after in zip(trainable_before, encoder.trainable_weights, strict=True)]
    assert sum(changed) > len(changed) // 2
    statistics = [w for w in encoder.non_trainable_weights if "moving" in w.path]
    assert not any(isinstance(layer, keras.layers.BatchNormalization) and layer.trainable for layer in encoder.layers)
    assert statistics and all(np.array_equal(before, keras.ops.convert_to_numpy(after))
                              for before, after in zip(encoder_before, encoder.weights, strict=True)
                              if "moving" in after.path), "unfrozen, the batch statistics stay ImageNet's"
    set_encoder_trainable(model, False)
    assert not encoder.trainable_weights


@pytest.mark.parametrize("input_size, match", [
    ((100, 128, 3), "height must be a multiple of 32"),
    ((64, 48, 3), "width must be a multiple of 32"),
    ((16, 16, 3), "multiple of 32"),
    ((64, 64, 1), "3 channels"),
    ((64, 64), r"input_size must be \(height, width, 3\)"),
])
def test_bad_sizes_raise(input_size, match):
    with pytest.raises(ValueError, match=match):
        mobilenet_unet(input_size, **SMALL)


def test_other_bad_arguments_raise(model):
    with pytest.raises(ValueError, match="n_classes must be a positive integer"):
        mobilenet_unet((64, 64, 3), n_classes=0, **SMALL)
    with pytest.raises(ValueError, match="alpha must be a positive number"):
        mobilenet_unet((64, 64, 3), alpha=0)
    with pytest.raises(ValueError, match="decoder_filters must be 4 positive integers"):
        mobilenet_unet((64, 64, 3), alpha=0.35, decoder_filters=(8, 8))
    with pytest.raises(ValueError, match="trainable must be True or False"):
        set_encoder_trainable(model, "yes")
    with pytest.raises(ValueError, match="model must be a mobilenet_unet"):
        set_encoder_trainable(keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)]), True)
