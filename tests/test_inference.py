"""predict_image: any image size by padding, and overlap-tile prediction that matches the whole image."""

import numpy as np
import pytest

from unet_lib._keras import keras
from unet_lib.environment import set_seed
from unet_lib.inference import predict_image, size_multiple
from unet_lib.model import unet_model


@pytest.fixture(scope="module")
def any_size_unet():
    set_seed(0)
    return unet_model((None, None, 3), n_filters=2, n_classes=3, depth=2, batch_norm=True, dropout_prob=0.0)


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


def test_a_fixed_size_model_segments_a_larger_image_tile_by_tile():
    set_seed(0)
    fixed = unet_model((32, 32, 3), n_filters=2, n_classes=2, depth=2, dropout_prob=0.0)
    assert size_multiple(fixed) == 4
    labels = predict_image(fixed, np.zeros((70, 45, 3)), tile_size=32, overlap=8)
    assert labels.shape == (70, 45)


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
    with pytest.raises(ValueError, match="model must be a keras.Model, got str"):
        predict_image("unet", np.zeros((16, 16, 3)))


def test_the_benchmark_prints_time_and_memory_per_megapixel():
    import json
    import subprocess
    import sys

    command = [sys.executable, "-m", "unet_lib", "bench", "predict", "--sides", "64", "96", "--tile-size", "64",
               "--overlap", "16"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    rows = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [row["side"] for row in rows] == [64, 96] and all(row["shape"] == [row["side"]] * 2 for row in rows)
    assert all(row["seconds_per_megapixel"] > 0 and row["peak_growth_mb"] >= 0 for row in rows)
