"""predict_image: any image size by padding, and overlap-tile prediction that matches the whole image."""

import numpy as np
import pytest

from unet_lib import keras
from unet_lib.environment import set_seed
from unet_lib.inference import predict_image, predict_masks, size_multiple
from unet_lib.pretrained import mobilenet_unet
from unet_lib.reference.model import unet_model


@pytest.fixture(scope="module")
def any_size_unet():
    set_seed(0)
    return unet_model((None, None, 3), n_filters=2, n_classes=3, depth=2, batch_norm=True, dropout_prob=0.0)


@pytest.fixture(scope="module")
def fixed_unet():
    set_seed(0)
    return unet_model((32, 32, 3), n_filters=2, n_classes=2, depth=2, dropout_prob=0.0)


@pytest.fixture(scope="module")
def tiny_mobilenet_unet():
    # Random encoder weights (no download) and the narrowest decoder: only the shapes matter here.
    set_seed(0)
    return mobilenet_unet((None, None, 3), n_classes=2, weights=None, alpha=0.35, decoder_filters=(2, 2, 2, 2))


def test_odd_sizes_give_a_map_of_the_image_own_size(any_size_unet):
    image = np.random.default_rng(0).random((97, 130, 3), dtype=np.float32)
    labels = predict_image(any_size_unet, image)
    assert labels.shape == (97, 130) and labels.dtype == np.int32
    assert set(np.unique(labels)) <= {0, 1, 2}
    logits = predict_image(any_size_unet, image, return_logits=True)
    assert logits.shape == (97, 130, 3)
    np.testing.assert_array_equal(logits.argmax(-1), labels)
    assert predict_image(any_size_unet, image[:5, :3]).shape == (5, 3)  # smaller than one pooling grid cell


def test_a_size_that_fits_is_predicted_as_the_model_does(any_size_unet):
    image = np.random.default_rng(1).random((32, 48, 3), dtype=np.float32)
    expected = keras.ops.convert_to_numpy(any_size_unet(image[None], training=False))[0]
    np.testing.assert_allclose(predict_image(any_size_unet, image, return_logits=True), expected, atol=1e-5)


def test_tiles_with_overlap_beyond_the_receptive_field_match_the_whole_image(any_size_unet):
    # The depth-2 U-Net's receptive field reaches about 31 pixels from a pixel (its 3x3 convolutions and transposed
    # convolutions at strides 1, 2 and 4, and the poolings): tiles that overlap by 36 see the same context as the
    # whole image everywhere but near the image's own borders, where whole image and tiles are mirrored
    # differently.
    image = np.random.default_rng(2).random((150, 170, 3), dtype=np.float32)
    whole = predict_image(any_size_unet, image, return_logits=True)
    tiled = predict_image(any_size_unet, image, tile_size=96, overlap=36, batch_size=3, return_logits=True)
    assert tiled.shape == whole.shape == (150, 170, 3)
    inner = (slice(40, -40), slice(40, -40))
    np.testing.assert_allclose(tiled[inner], whole[inner], rtol=1e-4, atol=1e-5)
    # Without overlap, the tiles' zero-padded edges show inside the image: the maps differ there.
    no_overlap = predict_image(any_size_unet, image, tile_size=32, overlap=0, return_logits=True)
    assert np.abs(no_overlap[inner] - whole[inner]).max() > 1e-3


def test_a_fixed_size_model_segments_a_larger_image_tile_by_tile(fixed_unet):
    assert size_multiple(fixed_unet) == 4
    labels = predict_image(fixed_unet, np.zeros((70, 45, 3)), tile_size=32, overlap=8)
    assert labels.shape == (70, 45)


def test_a_fixed_size_model_takes_a_whole_image_that_pads_to_its_size(fixed_unet):
    assert predict_image(fixed_unet, np.zeros((30, 31, 3))).shape == (30, 31)


@pytest.mark.parametrize(("shape", "options", "message"), [
    ((40, 40, 3), {}, r"image must pad to the model's fixed input size 32x32, got shape \(40, 40, 3\), which pads "
                      r"to 40x40"),
    ((70, 45, 3), {"tile_size": 64}, "tile_size must be the model's fixed input size 32x32 .*got 64"),
    ((32, 32, 1), {}, r"image must have the model's 3 channels, \(H, W, 3\), got shape \(32, 32, 1\)"),
    ((70, 45, 4), {"tile_size": 32}, r"image must have the model's 3 channels, \(H, W, 3\), got shape \(70, 45, 4\)"),
])
def test_images_and_tiles_a_fixed_size_model_cannot_take_are_named(fixed_unet, shape, options, message):
    with pytest.raises(ValueError, match=message):
        predict_image(fixed_unet, np.zeros(shape), **options)


def test_size_multiple_is_the_largest_downsampling_nested_or_strided(any_size_unet, tiny_mobilenet_unet):
    assert size_multiple(any_size_unet) == 4
    # MobileNetV2 halves the size 5 times with strided convolutions, inside the nested encoder sub-model.
    assert size_multiple(tiny_mobilenet_unet) == 32
    # A whole U-Net of depth 3 nested in a Sequential: its poolings are not top-level layers.
    nested = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Rescaling(1 / 255),
                               unet_model((None, None, 3), n_filters=2, n_classes=3, depth=3)])
    assert size_multiple(nested) == 8


def test_size_multiple_of_branches_is_the_deepest_not_the_product():
    # Branches that pool by 2 and by 4 and meet again: sides must be multiples of 4, not of 2 * 4.
    inputs = keras.Input((None, None, 1))
    half = keras.layers.MaxPooling2D(2)(inputs)
    quarter = keras.layers.UpSampling2D(2)(keras.layers.MaxPooling2D(4)(inputs))
    outputs = keras.layers.UpSampling2D(2)(keras.layers.Concatenate()([half, quarter]))
    assert size_multiple(keras.Model(inputs, outputs)) == 4


def test_a_mobilenet_unet_segments_an_image_of_any_size(tiny_mobilenet_unet):
    labels = predict_image(tiny_mobilenet_unet, np.random.default_rng(3).random((40, 50, 3), dtype=np.float32))
    assert labels.shape == (40, 50) and labels.dtype == np.int32


@pytest.mark.parametrize(("bias", "label"), [(3.0, 1), (-3.0, 0)])
def test_a_one_channel_model_labels_a_pixel_1_where_its_logit_is_positive(bias, label):
    set_seed(0)
    binary = unet_model((None, None, 3), n_filters=2, n_classes=1, depth=2, dropout_prob=0.0)
    kernel, _ = binary.get_layer("logits").get_weights()
    binary.get_layer("logits").set_weights([np.zeros_like(kernel), np.array([bias], np.float32)])
    image = np.random.default_rng(4).random((13, 21, 3), dtype=np.float32)
    labels = predict_image(binary, image)
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(labels, np.full((13, 21), label))
    np.testing.assert_allclose(predict_image(binary, image, return_logits=True), np.full((13, 21, 1), bias))
    np.testing.assert_array_equal(predict_masks(binary, image[None, :12, :20]), np.full((1, 12, 20), label))


@pytest.mark.parametrize(("options", "message"), [
    ({"tile_size": 30}, "tile_size must be a multiple of 4"),
    ({"tile_size": 32, "overlap": 6}, "overlap must be a multiple of 4"),
    ({"tile_size": 32, "overlap": 16}, r"overlap must leave a centre: 2 \* overlap < tile_size"),
    ({"tile_size": 32, "overlap": -4}, "overlap must be an integer >= 0"),
    ({"batch_size": 0}, "batch_size must be a positive integer"),
])
def test_bad_options_are_named(any_size_unet, options, message):
    with pytest.raises(ValueError, match=message):
        predict_image(any_size_unet, np.zeros((16, 16, 3)), **options)


def test_bad_images_and_models_are_named(any_size_unet):
    with pytest.raises(ValueError, match=r"image must be one \(H, W, C\) image, got shape \(2, 16, 16, 3\)"):
        predict_image(any_size_unet, np.zeros((2, 16, 16, 3)))
    with pytest.raises(ValueError, match=r"image must have the model's 3 channels.*got shape \(16, 16, 1\)"):
        predict_image(any_size_unet, np.zeros((16, 16, 1)))
    with pytest.raises(ValueError, match="model must be a keras.Model, got str"):
        predict_image("unet", np.zeros((16, 16, 3)))


@pytest.mark.extended
def test_the_benchmark_prints_time_and_memory_per_megapixel():
    import json
    import subprocess
    import sys

    command = [sys.executable, "-m", "course_tools", "bench", "predict", "--sides", "64", "96", "--tile-size", "64",
               "--overlap", "16"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    rows = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [row["side"] for row in rows] == [64, 96] and all(row["shape"] == [row["side"]] * 2 for row in rows)
    for row in rows:
        megapixels = row["side"] ** 2 / 1e6
        assert row["seconds_per_megapixel"] > 0
        # Each of the two memory figures is rounded to 0.1 MB: per megapixel, within the rounding of both.
        assert row["peak_growth_mb_per_megapixel"] == pytest.approx(row["peak_growth_mb"] / megapixels,
                                                                     abs=0.05 / megapixels + 0.05)
