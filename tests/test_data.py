"""The embedded shapes dataset and the batches that feed it to ``fit``."""

import numpy as np
import pytest

from unet_lib import CLASS_NAMES, keras, make_shapes_dataset
from unet_lib.data import ShapesBatches, augment_batch


def test_shapes_dtypes_and_ranges():
    images, masks = make_shapes_dataset(12, image_size=(40, 56), seed=3)
    assert images.shape == (12, 40, 56, 3) and images.dtype == np.float32
    assert masks.shape == (12, 40, 56) and np.issubdtype(masks.dtype, np.integer)
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert set(np.unique(masks)) <= set(range(len(CLASS_NAMES)))
    assert CLASS_NAMES == ("background", "disc", "triangle")


def test_same_seed_same_scenes_other_seed_other_scenes():
    first = make_shapes_dataset(300, image_size=(32, 32), seed=7)
    again = make_shapes_dataset(300, image_size=(32, 32), seed=7)
    other = make_shapes_dataset(300, image_size=(32, 32), seed=8)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "n must be a positive integer"),
        ({"n": 2.5}, "n must be a positive integer"),
        ({"n": 2, "seed": -1}, "seed must be a non-negative integer"),
        ({"n": 2, "image_size": (8, 64)}, "image_size must be at least"),
        ({"n": 2, "image_size": 64}, "image_size must be a pair"),
        ({"n": 2, "image_size": (64, 64, 3)}, "image_size must be a pair"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_shapes_dataset(**kwargs)


@pytest.fixture(scope="module")
def scenes():
    return make_shapes_dataset(1000, image_size=(64, 64), seed=0)


def test_class_balance_and_variety(scenes):
    images, masks = scenes
    fractions = np.bincount(masks.ravel(), minlength=3) / masks.size
    # Shapes of moderate size: background dominates but both shape classes are well represented,
    # and the two shape classes cover about the same area.
    assert 0.7 < fractions[0] < 0.9, fractions
    assert 0.05 < fractions[1] < 0.15 and 0.05 < fractions[2] < 0.15, fractions
    assert 0.8 < fractions[1] / fractions[2] < 1.25, fractions
    has_class = [(masks == c).any(axis=(1, 2)).mean() for c in (1, 2)]
    assert all(0.5 < share < 0.9 for share in has_class), has_class
    # Scenes with both classes, and shapes cut by the image border, are common.
    assert ((masks == 1).any(axis=(1, 2)) & (masks == 2).any(axis=(1, 2))).mean() > 0.3
    border = np.concatenate([masks[:, 0], masks[:, -1], masks[:, :, 0], masks[:, :, -1]], axis=1)
    assert (border > 0).any(axis=1).mean() > 0.4
    # Object area varies from scene to scene.
    object_share = (masks > 0).mean(axis=(1, 2))
    assert object_share.min() < 0.05 and object_share.max() > 0.35


def test_background_is_textured_not_flat(scenes):
    images, masks = scenes
    background_spread = [images[i][masks[i] == 0].std(axis=0).mean() for i in range(20)]
    assert min(background_spread) > 0.02, background_spread


def _colour_only_accuracy(train, test, bins=4):
    """Best disc-vs-triangle accuracy of a classifier that sees only a pixel's colour.

    It learns, for each colour bin, which shape class is more frequent there in ``train``, then
    labels every shape pixel of ``test`` by its colour bin.
    """

    def shape_pixels(images, masks):
        chosen = masks > 0
        levels = np.minimum((images[chosen] * bins).astype(int), bins - 1)
        colour_bin = (levels[:, 0] * bins + levels[:, 1]) * bins + levels[:, 2]
        return colour_bin, masks[chosen]

    train_bin, train_class = shape_pixels(*train)
    discs = np.bincount(train_bin[train_class == 1], minlength=bins**3)
    triangles = np.bincount(train_bin[train_class == 2], minlength=bins**3)
    guess = np.where(triangles > discs, 2, 1)
    test_bin, test_class = shape_pixels(*test)
    return (guess[test_bin] == test_class).mean()


def test_colour_does_not_give_the_class_away(scenes):
    images, masks = scenes
    held_out = make_shapes_dataset(1000, image_size=(64, 64), seed=1)
    # Disc and triangle pixels have the same colour statistics...
    disc_colours, triangle_colours = images[masks == 1], images[masks == 2]
    assert np.abs(disc_colours.mean(axis=0) - triangle_colours.mean(axis=0)).max() < 0.03
    assert np.abs(disc_colours.std(axis=0) - triangle_colours.std(axis=0)).max() < 0.03
    # ...so a classifier that sees only colour is no better than always guessing the larger class.
    majority = max((masks[masks > 0] == c).mean() for c in (1, 2))
    held_out_majority = max((held_out[1][held_out[1] > 0] == c).mean() for c in (1, 2))
    accuracy = _colour_only_accuracy((images, masks), held_out)
    assert accuracy < max(majority, held_out_majority) + 0.05, (accuracy, majority)


def test_colour_check_detects_a_planted_colour_cue(scenes):
    """The statistical check above can fail: tint triangles red and it sees through it."""
    images, masks = scenes
    tinted = images.copy()
    tinted[masks == 2, 0] = 0.9 + 0.1 * tinted[masks == 2, 0]
    held_out_images, held_out_masks = make_shapes_dataset(300, image_size=(64, 64), seed=1)
    held_out_images[held_out_masks == 2, 0] = 0.9 + 0.1 * held_out_images[held_out_masks == 2, 0]
    assert _colour_only_accuracy((tinted, masks), (held_out_images, held_out_masks)) > 0.8


def _dihedral_versions(image):
    turned = [np.rot90(image, k, axes=(0, 1)) for k in range(4)]
    return turned + [np.rot90(image[:, ::-1], k, axes=(0, 1)) for k in range(4)]


def test_augment_batch_moves_image_and_mask_together():
    images, masks = make_shapes_dataset(32, image_size=(24, 24), seed=2)
    # Write the mask into the red channel: after any move it must still equal the mask.
    images[..., 0] = masks
    moved_images, moved_masks = augment_batch(images, masks, np.random.default_rng(0))
    assert moved_images.shape == images.shape and moved_masks.shape == masks.shape
    assert np.array_equal(moved_images[..., 0], moved_masks)
    moves_used = set()
    for original, moved in zip(images, moved_images, strict=True):
        matches = [i for i, version in enumerate(_dihedral_versions(original)) if np.array_equal(version, moved)]
        assert matches, "a scene was changed by something other than a flip or a rotation"
        moves_used.add(matches[0])
    assert len(moves_used) >= 5, moves_used


def test_augment_batch_keeps_the_shape_of_non_square_scenes():
    images, masks = make_shapes_dataset(16, image_size=(20, 32), seed=2)
    moved_images, moved_masks = augment_batch(images, masks, np.random.default_rng(0))
    assert moved_images.shape == (16, 20, 32, 3) and moved_masks.shape == (16, 20, 32)
    with pytest.raises(ValueError, match="images must be"):
        augment_batch(images, masks[:, :10], np.random.default_rng(0))


def test_batches_cover_every_scene_once_per_epoch_in_a_new_order():
    n = 10
    images = np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None, None], (n, 16, 16, 3)).copy()
    masks = np.zeros((n, 16, 16), dtype=np.int32)
    batches = ShapesBatches(images, masks, batch_size=4, seed=5)
    assert len(batches) == 3
    assert [len(batches[i][0]) for i in range(3)] == [4, 4, 2]

    def visited():
        return [int(x) for i in range(len(batches)) for x in batches[i][0][:, 0, 0, 0]]

    first_epoch = visited()
    assert sorted(first_epoch) == list(range(n))
    assert visited() == first_epoch  # the same batch twice within an epoch is the same batch
    batches.on_epoch_end()
    second_epoch = visited()
    assert sorted(second_epoch) == list(range(n)) and second_epoch != first_epoch
    with pytest.raises(IndexError):
        batches[3]


def test_batches_are_repeatable_and_augmented():
    images, masks = make_shapes_dataset(8, image_size=(16, 16))
    a = ShapesBatches(images, masks, batch_size=8, seed=1)[0]
    b = ShapesBatches(images, masks, batch_size=8, seed=1)[0]
    plain = ShapesBatches(images, masks, batch_size=8, augment=False, shuffle=False)[0]
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert np.array_equal(plain[0], images) and np.array_equal(plain[1], masks)
    assert not np.array_equal(np.sort(a[1], axis=0), np.sort(plain[1], axis=0))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"batch_size": 0}, "batch_size must be a positive integer"), ({"masks": np.zeros((3, 4, 4))}, "images must be")],
)
def test_batches_bad_arguments(kwargs, message):
    arguments = {"images": np.zeros((2, 4, 4, 3)), "masks": np.zeros((2, 4, 4), dtype=int), **kwargs}
    with pytest.raises(ValueError, match=message):
        ShapesBatches(**arguments)


def test_fit_runs_on_the_batches():
    images, masks = make_shapes_dataset(16, image_size=(16, 16))
    inputs = keras.Input((16, 16, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(3, 3, padding="same")(inputs))
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(ShapesBatches(images, masks, batch_size=8), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
