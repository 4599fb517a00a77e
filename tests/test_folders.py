"""Reading segmentation datasets from folders of files: pairing, decoding, resizing, errors, batches."""

import math

import numpy as np
import pytest
from PIL import Image

from unet_lib import keras
from unet_lib.data import make_shapes_dataset
from unet_lib.folders import (
    BINARY_CLASS_NAMES,
    CARLA_N_CLASSES,
    OXFORD_PETS_CLASS_NAMES,
    SegmentationFolderBatches,
    load_carla_folder,
    load_dataset_folder,
    load_oxford_pets_folder,
    load_segmentation_folder,
    write_segmentation_folder,
)


def _save(path, array, mode=None, **options):
    """Write ``array`` as an image file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    picture = Image.fromarray(np.asarray(array))
    if mode is not None:
        picture = picture.convert(mode)
    picture.save(path, **options)
    return path


def _random_rgb(rng, height, width):
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def _random_labels(rng, height, width, n_classes=3):
    return rng.integers(0, n_classes, (height, width), dtype=np.uint8)


@pytest.fixture
def folder(tmp_path):
    """Six shape scenes of 16x24 written as a folder: ``(images_dir, masks_dir, images, masks, stems)``."""
    images, masks = make_shapes_dataset(6, image_size=(16, 24), seed=1)
    stems = write_segmentation_folder(images, masks, tmp_path / "images", tmp_path / "masks")
    return tmp_path / "images", tmp_path / "masks", images, masks, stems


# Round trip and decoding.


def test_round_trip_is_exact_for_masks_and_within_rounding_for_images(folder):
    images_dir, masks_dir, images, masks, stems = folder
    assert stems == [f"scene_{i:05d}" for i in range(6)]
    assert sorted(p.name for p in masks_dir.iterdir()) == [f"{stem}.png" for stem in stems]
    assert Image.open(masks_dir / "scene_00000.png").mode == "L"
    assert Image.open(images_dir / "scene_00000.png").mode == "RGB"
    loaded_images, loaded_masks = load_segmentation_folder(images_dir, masks_dir)
    assert loaded_images.dtype == np.float32 and loaded_images.shape == images.shape
    assert loaded_masks.dtype == np.int32 and np.array_equal(loaded_masks, masks)
    assert np.abs(loaded_images - images).max() <= 0.5 / 255 + 1e-6
    assert loaded_images.min() >= 0 and loaded_images.max() <= 1


def test_jpg_images_any_case_pair_with_png_masks_in_name_order(tmp_path):
    rng = np.random.default_rng(0)
    pixels = {stem: _random_rgb(rng, 12, 20) for stem in ("b", "a", "c")}
    labels = {stem: _random_labels(rng, 12, 20) for stem in pixels}
    extension = {"a": ".jpg", "b": ".JPEG", "c": ".png"}
    for stem in pixels:
        _save(tmp_path / "img" / f"{stem}{extension[stem]}", pixels[stem], format="PNG" if stem == "c" else "JPEG")
        _save(tmp_path / "msk" / f"{stem}.png", labels[stem])
    # Files that are neither images nor visible are skipped.
    (tmp_path / "img" / "notes.txt").write_text("not an image")
    (tmp_path / "img" / ".DS_Store").write_bytes(b"\0\1")
    (tmp_path / "msk" / "._a.png").write_bytes(b"macOS metadata, not a PNG")
    images, masks = load_segmentation_folder(tmp_path / "img", str(tmp_path / "msk"))
    assert np.array_equal(masks, np.stack([labels[s] for s in "abc"]))
    expected_a = np.asarray(Image.open(tmp_path / "img" / "a.jpg").convert("RGB"), np.float32) / 255
    assert np.array_equal(images[0], expected_a)
    assert np.array_equal(images[2], pixels["c"] / np.float32(255))


def test_greyscale_rgba_and_palette_images_become_rgb(tmp_path):
    rng = np.random.default_rng(1)
    grey = rng.integers(0, 256, (8, 8), dtype=np.uint8)
    rgba = rng.integers(0, 256, (8, 8, 4), dtype=np.uint8)
    _save(tmp_path / "img" / "grey.png", grey)
    _save(tmp_path / "img" / "rgba.png", rgba)
    _save(tmp_path / "img" / "pal.png", _random_rgb(rng, 8, 8), mode="P")
    _save(tmp_path / "img" / "deep.png", grey.astype(np.uint16) * 257)  # 16-bit greyscale
    for stem in ("grey", "rgba", "pal", "deep"):
        _save(tmp_path / "msk" / f"{stem}.png", np.zeros((8, 8), np.uint8))
    images, _ = load_segmentation_folder(tmp_path / "img", tmp_path / "msk")
    deep, grey_rgb, palette_rgb, rgba_rgb = images  # name order: deep, grey, pal, rgba
    assert images.shape == (4, 8, 8, 3)
    assert np.allclose(grey_rgb, np.repeat(grey[..., None], 3, axis=-1) / 255)
    assert np.allclose(deep, grey_rgb, atol=1e-6)
    assert np.allclose(rgba_rgb, rgba[..., :3] / 255)
    palette_colours = np.asarray(Image.open(tmp_path / "img" / "pal.png").convert("RGB")) / 255
    assert np.allclose(palette_rgb, palette_colours)


def test_palette_mask_gives_palette_indices_not_colours(tmp_path):
    rng = np.random.default_rng(2)
    labels = _random_labels(rng, 10, 10, n_classes=4)
    mask = Image.fromarray(labels, mode="P")
    # A palette where index 1 looks red, 2 green, 3 blue: the labels must stay 0-3.
    mask.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (3 * 252))
    (tmp_path / "msk").mkdir()
    mask.save(tmp_path / "msk" / "x.png")
    assert Image.open(tmp_path / "msk" / "x.png").mode == "P"
    _save(tmp_path / "img" / "x.png", _random_rgb(rng, 10, 10))
    _, masks = load_segmentation_folder(tmp_path / "img", tmp_path / "msk")
    assert np.array_equal(masks[0], labels)


def test_sixteen_bit_and_int32_masks_keep_large_indices(tmp_path):
    labels = np.arange(64, dtype=np.uint16).reshape(8, 8) * 100  # up to 6300, beyond 8 bits
    _save(tmp_path / "msk" / "x.png", labels)
    _save(tmp_path / "img" / "x.png", np.zeros((8, 8, 3), np.uint8))
    _, masks = load_segmentation_folder(tmp_path / "img", tmp_path / "msk", n_classes=6301)
    assert np.array_equal(masks[0], labels)
    with pytest.raises(ValueError, match=r"x\.png.*class index 6300.*n_classes=10"):
        load_segmentation_folder(tmp_path / "img", tmp_path / "msk", n_classes=10)


# Resizing.


def test_resize_is_bilinear_for_images_and_nearest_for_masks(tmp_path):
    rng = np.random.default_rng(3)
    pixels = _random_rgb(rng, 20, 30)
    # Labels 0 and 4 only, in blocks: a blend would create labels in between.
    labels = np.kron(rng.choice([0, 4], (5, 6)), np.ones((4, 5), np.uint8)).astype(np.uint8)
    _save(tmp_path / "img" / "x.png", pixels)
    _save(tmp_path / "msk" / "x.png", labels)
    # n_classes: labels 1 to 3 never occur, which is fine for indices of 5 classes.
    images, masks = load_segmentation_folder(tmp_path / "img", tmp_path / "msk", image_size=(13, 17), n_classes=5)
    assert images.shape == (1, 13, 17, 3) and masks.shape == (1, 13, 17)
    expected = np.asarray(Image.fromarray(pixels).resize((17, 13), Image.Resampling.BILINEAR), np.float32) / 255
    assert np.array_equal(images[0], expected)
    nearest = np.asarray(Image.fromarray(labels).resize((17, 13), Image.Resampling.NEAREST))
    assert np.array_equal(masks[0], nearest)
    assert set(np.unique(masks)) == {0, 4}
    # Upsampling too; files of different sizes are fine when image_size is given.
    _save(tmp_path / "img" / "y.png", _random_rgb(rng, 8, 8))
    _save(tmp_path / "msk" / "y.png", labels[:8, :8])
    images, masks = load_segmentation_folder(tmp_path / "img", tmp_path / "msk", image_size=(32, 32), n_classes=5)
    assert images.shape == (2, 32, 32, 3) and set(np.unique(masks)) <= {0, 4}


# Errors: each a ValueError naming the file, argument or folder at fault.


def test_image_without_mask_and_mask_without_image_are_named(folder):
    images_dir, masks_dir, *_ = folder
    (masks_dir / "scene_00002.png").unlink()
    (images_dir / "scene_00004.png").unlink()
    with pytest.raises(ValueError, match=r"1 image in images_dir .* no mask[^\n]*scene_00002\.png") as error:
        load_segmentation_folder(images_dir, masks_dir)
    assert "1 mask in masks_dir" in str(error.value) and "scene_00004.png" in str(error.value)


def test_many_missing_masks_list_five_and_count_the_rest(folder, tmp_path):
    images_dir, masks_dir, *_ = folder
    extra = np.zeros((16, 24, 3), np.uint8)
    for i in range(9):
        _save(images_dir / f"extra_{i}.jpg", extra)
    with pytest.raises(ValueError, match=r"9 images .*extra_0\.jpg, extra_1\.jpg, .*extra_4\.jpg and 4 more") as error:
        load_segmentation_folder(images_dir, masks_dir)
    assert "extra_5" not in str(error.value)


def test_jpeg_masks_are_pointed_out(folder):
    images_dir, masks_dir, *_ = folder
    Image.open(masks_dir / "scene_00001.png").save(masks_dir / "scene_00001.jpg")
    (masks_dir / "scene_00001.png").unlink()
    with pytest.raises(ValueError, match=r"scene_00001\.png.*JPEG files scene_00001\.jpg.*must be PNG"):
        load_segmentation_folder(images_dir, masks_dir)


def test_two_images_of_one_name_are_an_error(folder):
    images_dir, masks_dir, *_ = folder
    Image.open(images_dir / "scene_00003.png").save(images_dir / "scene_00003.jpg")
    with pytest.raises(ValueError, match=r"scene_00003\.jpg and scene_00003\.png"):
        load_segmentation_folder(images_dir, masks_dir)


@pytest.mark.parametrize("broken", ["image", "mask"])
def test_unreadable_file_is_named(folder, broken):
    images_dir, masks_dir, *_ = folder
    path = (images_dir if broken == "image" else masks_dir) / "scene_00003.png"
    path.write_bytes(b"this is not a PNG file")
    with pytest.raises(ValueError, match=rf"cannot read {broken} file .*scene_00003\.png"):
        load_segmentation_folder(images_dir, masks_dir)


def test_truncated_file_is_named_when_decoded(folder):
    images_dir, masks_dir, *_ = folder
    path = images_dir / "scene_00005.png"
    path.write_bytes(path.read_bytes()[:120])  # the header survives, the pixels do not
    with pytest.raises(ValueError, match=r"cannot read image file .*scene_00005\.png"):
        load_segmentation_folder(images_dir, masks_dir)


def test_multichannel_mask_of_unknown_layout_is_an_error(folder):
    images_dir, masks_dir, *_ = folder
    labels = np.asarray(Image.open(masks_dir / "scene_00001.png"))
    _save(masks_dir / "scene_00001.png", np.stack([labels] * 3, axis=-1))
    with pytest.raises(ValueError, match=r"scene_00001\.png' has PIL mode RGB \(3 channels\).*single-channel"):
        load_segmentation_folder(images_dir, masks_dir)
    # The same masks read with the layout that fits them give the labels.
    for path in masks_dir.iterdir():
        Image.open(path).convert("RGB").save(path)
    _, masks = load_segmentation_folder(images_dir, masks_dir, mask_layout="red")
    assert np.array_equal(masks[1], labels)


def test_sizes_that_disagree_name_two_files_and_sizes(folder):
    images_dir, masks_dir, *_ = folder
    _save(images_dir / "scene_00004.png", np.zeros((20, 24, 3), np.uint8))
    _save(masks_dir / "scene_00004.png", np.zeros((20, 24), np.uint8))
    with pytest.raises(ValueError, match=r"scene_00000\.png' is 16x24.*scene_00004\.png' is 20x24.*image_size"):
        load_segmentation_folder(images_dir, masks_dir)
    images, _ = load_segmentation_folder(images_dir, masks_dir, image_size=(16, 24))
    assert images.shape == (6, 16, 24, 3)


def test_image_and_mask_of_different_sizes_name_both(folder):
    images_dir, masks_dir, *_ = folder
    _save(masks_dir / "scene_00002.png", np.zeros((8, 12), np.uint8))
    with pytest.raises(ValueError, match=r"images/scene_00002\.png' is 16x24 .*masks/scene_00002\.png' is 8x12"):
        load_segmentation_folder(images_dir, masks_dir, image_size=(16, 16))


def test_empty_and_missing_folders_name_the_argument(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "msk").mkdir()
    (tmp_path / "img" / "readme.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"images_dir .*img' holds no images .*readme\.txt"):
        load_segmentation_folder(tmp_path / "img", tmp_path / "msk")
    _save(tmp_path / "img" / "a.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match=r"masks_dir .*msk' holds no masks"):
        load_segmentation_folder(tmp_path / "img", tmp_path / "msk")
    with pytest.raises(ValueError, match=r"masks_dir .*nowhere' does not exist"):
        load_segmentation_folder(tmp_path / "img", tmp_path / "nowhere")
    with pytest.raises(ValueError, match=r"images_dir .*a\.png' is not a folder"):
        load_segmentation_folder(tmp_path / "img" / "a.png", tmp_path / "msk")
    with pytest.raises(ValueError, match="same folder"):
        load_segmentation_folder(tmp_path / "img", tmp_path / "img")


def test_no_array_comes_back_when_a_late_file_is_bad(folder):
    """The last pair's damage stops the whole load; nothing half-loaded is returned."""
    images_dir, masks_dir, *_ = folder
    _save(masks_dir / "scene_00005.png", np.full((16, 24), 7, np.uint8))
    with pytest.raises(ValueError, match=r"scene_00005\.png.*class index 7.*n_classes=3"):
        load_segmentation_folder(images_dir, masks_dir, n_classes=3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image_size": (0, 8)}, "image_size must be a pair"),
        ({"image_size": 16}, "image_size must be a pair"),
        ({"mask_layout": "rgb"}, "mask_layout must be one of 'index', 'red', 'trimap'"),
        ({"n_classes": 0}, "n_classes must be a positive integer"),
    ],
)
def test_bad_arguments(folder, kwargs, message):
    images_dir, masks_dir, *_ = folder
    with pytest.raises(ValueError, match=message):
        load_segmentation_folder(images_dir, masks_dir, **kwargs)


# The two public datasets' layouts.


def test_carla_reads_class_ids_from_the_red_channel(tmp_path):
    rng = np.random.default_rng(4)
    ids = rng.integers(0, CARLA_N_CLASSES, (3, 12, 16), dtype=np.uint8)
    for i in range(3):
        noise = rng.integers(0, 256, (12, 16, 2), dtype=np.uint8)  # green and blue mean nothing
        mask = np.concatenate([ids[i, ..., None], noise], axis=-1)
        if i == 2:
            mask = np.concatenate([mask, np.full((12, 16, 1), 255, np.uint8)], axis=-1)  # RGBA
        _save(tmp_path / "CameraMask" / f"{i:03d}.png", mask)
        _save(tmp_path / "CameraRGB" / f"{i:03d}.png", _random_rgb(rng, 12, 16), mode="RGBA")
    images, masks = load_carla_folder(tmp_path)
    assert CARLA_N_CLASSES == 23
    assert images.shape == (3, 12, 16, 3) and np.array_equal(masks, ids)
    images, masks = load_carla_folder(tmp_path, image_size=(6, 8))
    assert masks.shape == (3, 6, 8) and set(np.unique(masks)) <= set(np.unique(ids))
    # An id of 23 or more is not a CARLA class.
    bad = np.zeros((12, 16, 3), np.uint8)
    bad[0, 0, 0] = 23
    _save(tmp_path / "CameraMask" / "001.png", bad)
    with pytest.raises(ValueError, match=r"001\.png.*class index 23"):
        load_carla_folder(tmp_path)
    # A single-channel mask is not the CARLA layout.
    _save(tmp_path / "CameraMask" / "001.png", np.zeros((12, 16), np.uint8))
    with pytest.raises(ValueError, match=r"001\.png' has PIL mode L.*red channel"):
        load_carla_folder(tmp_path)


def test_carla_missing_subfolder_names_root(tmp_path):
    (tmp_path / "CameraRGB").mkdir()
    with pytest.raises(ValueError, match=r"root .* has no folder CameraMask"):
        load_carla_folder(tmp_path)
    with pytest.raises(ValueError, match=r"root .*absent' does not exist"):
        load_carla_folder(tmp_path / "absent")


def _oxford_fixture(root, rng, n=3):
    trimaps = rng.integers(1, 4, (n, 14, 18), dtype=np.uint8)
    for i in range(n):
        _save(root / "images" / f"Pet_{i}.jpg", _random_rgb(rng, 14, 18), format="JPEG")
        _save(root / "annotations" / "trimaps" / f"Pet_{i}.png", trimaps[i])
    return trimaps


def test_oxford_pets_maps_trimaps_to_classes_and_skips_other_files(tmp_path):
    rng = np.random.default_rng(5)
    trimaps = _oxford_fixture(tmp_path, rng)
    (tmp_path / "images" / "Abyssinian_100.mat").write_bytes(b"MATLAB 5.0")
    (tmp_path / "annotations" / "trimaps" / "._Pet_0.png").write_bytes(b"\0\5\26\7")
    (tmp_path / "annotations" / "list.txt").write_text("# image class species breed")
    images, masks = load_oxford_pets_folder(tmp_path, image_size=(14, 18))
    assert OXFORD_PETS_CLASS_NAMES == ("pet", "background", "border")
    assert images.shape == (3, 14, 18, 3) and np.array_equal(masks, trimaps.astype(np.int32) - 1)
    _, small = load_oxford_pets_folder(tmp_path, (7, 9))
    assert small.shape == (3, 7, 9) and set(np.unique(small)) <= {0, 1, 2}
    with pytest.raises(ValueError, match="image_size must be a pair"):
        load_oxford_pets_folder(tmp_path, None)


@pytest.mark.parametrize("value", [0, 4])
def test_oxford_trimap_value_outside_1_to_3_is_named(tmp_path, value):
    trimaps = _oxford_fixture(tmp_path, np.random.default_rng(6))
    trimaps[1, 3, 4] = value
    _save(tmp_path / "annotations" / "trimaps" / "Pet_1.png", trimaps[1])
    with pytest.raises(ValueError, match=rf"trimap .*Pet_1\.png' holds values {value}"):
        load_oxford_pets_folder(tmp_path, (14, 18))


def test_oxford_image_without_trimap_is_an_error(tmp_path):
    _oxford_fixture(tmp_path, np.random.default_rng(7))
    (tmp_path / "annotations" / "trimaps" / "Pet_2.png").unlink()
    with pytest.raises(ValueError, match=r"root/images .* no mask .*root/annotations/trimaps.*Pet_2\.jpg"):
        load_oxford_pets_folder(tmp_path, (14, 18))


# Label values, judged over the whole mask set.


def _labelled_folder(root, masks, sub="masks"):
    """Write ``masks`` (a list of ``(H, W)`` label arrays) and random RGB images as ``root/images`` + ``root/sub``."""
    rng = np.random.default_rng(10)
    for i, mask in enumerate(masks):
        _save(root / "images" / f"m{i}.png", _random_rgb(rng, *mask.shape))
        _save(root / sub / f"m{i}.png", np.asarray(mask, np.uint8))
    return root / "images", root / sub


def _blobs(rng, n, height=12, width=16, value=255):
    """``n`` masks of 0 with random rectangles of ``value``, each holding both values."""
    masks = np.zeros((n, height, width), np.uint8)
    for mask in masks:
        top, left = rng.integers(0, height // 2), rng.integers(0, width // 2)
        mask[top:top + rng.integers(2, height // 2), left:left + rng.integers(2, width // 2)] = value
    return masks


def test_black_and_white_masks_are_read_as_binary_with_a_note(tmp_path, capsys):
    stored = _blobs(np.random.default_rng(11), 4)
    _, masks_dir = _labelled_folder(tmp_path, stored)
    images, masks, class_names = load_dataset_folder(tmp_path, (12, 16))
    assert class_names == BINARY_CLASS_NAMES == ("background", "object")
    assert masks.dtype == np.int32 and np.array_equal(masks, stored // 255)
    assert images.shape == (4, 12, 16, 3)
    note = capsys.readouterr().out
    assert note == (
        f"masks in root/masks '{masks_dir}' hold only 0 and 255:\n  read as binary, "
        "0 -> class 0 (background), 255 -> class 1 (object)\n"
    )
    # The folder reader gives the same labels and note, naming its own argument.
    _, same = load_segmentation_folder(tmp_path / "images", masks_dir, image_size=(6, 8))
    assert set(np.unique(same)) == {0, 1}
    assert capsys.readouterr().out.startswith(f"masks in masks_dir '{masks_dir}' hold only 0 and 255")


def test_zero_one_masks_are_two_classes_as_they_are(tmp_path, capsys):
    stored = _blobs(np.random.default_rng(12), 3, value=1)
    _labelled_folder(tmp_path, stored)
    _, masks, class_names = load_dataset_folder(tmp_path, (12, 16))
    assert np.array_equal(masks, stored) and class_names == ("class 0", "class 1")
    assert capsys.readouterr().out == ""  # already class indices: nothing was renumbered


def test_all_background_and_all_object_masks_do_not_change_the_reading(tmp_path, capsys):
    """The set decides, not each file: a mask of only 0 (or only 255) in a 0/255 folder is binary too."""
    stored = _blobs(np.random.default_rng(13), 3)
    stored[1] = 0
    stored[2] = 255
    _labelled_folder(tmp_path, stored)
    _, masks, class_names = load_dataset_folder(tmp_path, (12, 16))
    assert class_names == ("background", "object")
    assert not masks[1].any() and masks[2].all() and set(np.unique(masks[0])) == {0, 1}
    assert capsys.readouterr().out.count("read as binary") == 1


@pytest.mark.parametrize(
    ("values", "shown", "renumbering"),
    [
        ((0, 128, 255), "0, 128, 255", "0 -> 0, 128 -> 1, 255 -> 2"),
        ((0, 2, 5), "0, 2, 5", "0 -> 0, 2 -> 1, 5 -> 2"),
        ((1, 2, 3), "1, 2, 3", "1 -> 0, 2 -> 1, 3 -> 2"),  # a trimap outside the Oxford layout
    ],
)
def test_labels_that_are_not_class_indices_are_an_error_naming_them(tmp_path, capsys, values, shown, renumbering):
    # Spread over the files: each mask alone has two values, only the set has three.
    stored = np.full((3, 6, 8), values[0], np.uint8)
    stored[0, :3], stored[1, :3], stored[2, :, :4] = values[1], values[2], values[1]
    _, masks_dir = _labelled_folder(tmp_path, stored)
    with pytest.raises(ValueError) as error:
        load_dataset_folder(tmp_path, (6, 8))
    assert str(error.value) == (
        f"masks in root/masks '{masks_dir}' hold the labels {shown} (over all masks), which are neither class "
        "indices 0 to n-1 nor the 0 and 255 of a black-and-white mask; write the masks with labels 0 to 2 "
        f"instead ({renumbering})"
    )
    # The folder reader, which takes n_classes, says so too.
    with pytest.raises(ValueError, match=rf"masks_dir .* hold the labels {shown} .*or pass n_classes"):
        load_segmentation_folder(tmp_path / "images", masks_dir)
    assert capsys.readouterr().out == ""


def test_many_odd_labels_are_listed_ten_and_counted(tmp_path):
    _, masks_dir = _labelled_folder(tmp_path, [np.arange(0, 80, 2, dtype=np.uint8).reshape(5, 8)])
    with pytest.raises(ValueError, match=r"labels 0, 2, 4, 6, 8, 10, 12, 14, 16, 18 and 30 more \(over all masks\)"
                       r".*labels 0 to 39 instead \(0 -> 0, 2 -> 1, 4 -> 2, \.\.\.\)"):
        load_segmentation_folder(tmp_path / "images", masks_dir)


def test_labels_are_judged_before_any_image_is_decoded(tmp_path):
    images_dir, masks_dir = _labelled_folder(tmp_path, [np.zeros((6, 8)), np.full((6, 8), 128), np.full((6, 8), 255)])
    path = images_dir / "m2.png"
    path.write_bytes(path.read_bytes()[:60])  # a header that opens, pixels that do not decode
    with pytest.raises(ValueError, match=r"hold the labels 0, 128, 255"):
        load_segmentation_folder(images_dir, masks_dir)
    _save(masks_dir / "m1.png", np.full((6, 8), 1, np.uint8))
    _save(masks_dir / "m2.png", np.full((6, 8), 2, np.uint8))
    with pytest.raises(ValueError, match=r"cannot read image file .*m2\.png"):  # the image was damaged all along
        load_segmentation_folder(images_dir, masks_dir)


def test_n_classes_allows_missing_classes_and_two_reads_0_255_as_binary(tmp_path, capsys):
    stored = np.zeros((2, 6, 8), np.uint8)
    stored[0, :2], stored[1, :2] = 2, 5
    images_dir, masks_dir = _labelled_folder(tmp_path, stored)
    _, masks = load_segmentation_folder(images_dir, masks_dir, n_classes=6)  # classes 1, 3, 4 absent
    assert np.array_equal(masks, stored)
    with pytest.raises(ValueError, match=r"m1\.png' holds class index 5, but n_classes=5"):
        load_segmentation_folder(images_dir, masks_dir, n_classes=5)
    _save(masks_dir / "m0.png", np.where(stored[0] > 0, 255, 0).astype(np.uint8))
    _save(masks_dir / "m1.png", np.zeros((6, 8), np.uint8))
    _, masks = load_segmentation_folder(images_dir, masks_dir, n_classes=2)
    assert np.array_equal(masks[0], (stored[0] > 0).astype(np.int32)) and not masks[1].any()
    assert "read as binary" in capsys.readouterr().out
    # More classes than 2 means the labels are indices, and 255 is then one too many.
    with pytest.raises(ValueError, match=r"m0\.png' holds class index 255, but n_classes=3"):
        load_segmentation_folder(images_dir, masks_dir, n_classes=3)


def test_carla_masks_of_0_and_255_stay_an_error(tmp_path, capsys):
    mask = np.zeros((6, 8, 3), np.uint8)
    mask[:3, :, 0] = 255
    _save(tmp_path / "CameraMask" / "000.png", mask)
    _save(tmp_path / "CameraRGB" / "000.png", np.zeros((6, 8, 3), np.uint8))
    with pytest.raises(ValueError, match=r"000\.png' holds class index 255, but n_classes=23"):
        load_dataset_folder(tmp_path, (6, 8))
    assert capsys.readouterr().out == ""


# Streaming batches.


def test_batches_equal_the_loader_without_shuffle(tmp_path):
    rng = np.random.default_rng(8)
    for i in range(7):
        height, width = rng.integers(10, 30, 2)  # files of many sizes, resized per batch
        _save(tmp_path / "img" / f"p{i}.jpg", _random_rgb(rng, height, width), format="JPEG")
        _save(tmp_path / "msk" / f"p{i}.png", _random_labels(rng, height, width))
    images, masks = load_segmentation_folder(tmp_path / "img", tmp_path / "msk", image_size=(12, 16))
    batches = SegmentationFolderBatches(tmp_path / "img", tmp_path / "msk", (12, 16), batch_size=3, shuffle=False)
    assert isinstance(batches, keras.utils.PyDataset)
    assert len(batches) == 3 == math.ceil(7 / 3)
    assert batches.stems == [f"p{i}" for i in range(7)]
    streamed = [batches[i] for i in range(len(batches))]
    assert [len(b[0]) for b in streamed] == [3, 3, 1]
    assert np.array_equal(np.concatenate([b[0] for b in streamed]), images)
    assert np.array_equal(np.concatenate([b[1] for b in streamed]), masks)
    assert streamed[0][0].dtype == np.float32 and streamed[0][1].dtype == np.int32
    with pytest.raises(IndexError):
        batches[3]


def _epoch_masks(batches):
    return np.concatenate([batches[i][1] for i in range(len(batches))])


def test_shuffle_is_repeatable_per_seed_and_new_each_epoch(folder):
    images_dir, masks_dir, _, masks, _ = folder
    first = SegmentationFolderBatches(images_dir, masks_dir, (16, 24), batch_size=4, seed=3)
    again = SegmentationFolderBatches(images_dir, masks_dir, (16, 24), batch_size=4, seed=3)
    epoch_0 = _epoch_masks(first)
    assert np.array_equal(epoch_0, _epoch_masks(again))
    # Every scene exactly once per epoch, in another order.
    assert not np.array_equal(epoch_0, masks)
    assert sorted(m.tobytes() for m in epoch_0) == sorted(m.tobytes() for m in masks)
    first.on_epoch_end()
    assert not np.array_equal(_epoch_masks(first), epoch_0)
    other_seed = SegmentationFolderBatches(images_dir, masks_dir, (16, 24), batch_size=4, seed=4)
    assert not np.array_equal(_epoch_masks(other_seed), epoch_0)


def test_augmented_batches_keep_images_and_masks_aligned(folder):
    images_dir, masks_dir, images, masks, _ = folder
    batches = SegmentationFolderBatches(images_dir, masks_dir, (16, 24), batch_size=6, shuffle=False, augment=True)
    batch_images, batch_masks = batches[0]
    assert batch_images.shape == (6, 16, 24, 3) and batch_masks.shape == (6, 16, 24)
    assert not np.array_equal(batch_masks, masks)  # some scene flipped or turned
    # Each scene moved as a whole, its mask with it: it equals one of the 4 moves of the original.
    loaded_images, _ = load_segmentation_folder(images_dir, masks_dir)
    for image, mask, original_image, original_mask in zip(batch_images, batch_masks, loaded_images, masks, strict=True):
        moves = [(np.flip(original_image, 1), np.flip(original_mask, 1)), (original_image, original_mask)]
        moves += [(np.rot90(i, 2), np.rot90(m, 2)) for i, m in moves]
        assert any(np.array_equal(image, i) and np.array_equal(mask, m) for i, m in moves)


def test_batches_check_the_folder_up_front_and_their_arguments(folder):
    images_dir, masks_dir, *_ = folder
    (masks_dir / "scene_00003.png").unlink()
    with pytest.raises(ValueError, match=r"no mask .*scene_00003\.png"):
        SegmentationFolderBatches(images_dir, masks_dir, (16, 24))
    _save(masks_dir / "scene_00003.png", np.zeros((16, 24), np.uint8))
    with pytest.raises(ValueError, match="image_size must be a pair"):
        SegmentationFolderBatches(images_dir, masks_dir, None)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        SegmentationFolderBatches(images_dir, masks_dir, (16, 24), batch_size=0)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        SegmentationFolderBatches(images_dir, masks_dir, (16, 24), seed=-1)
    batches = SegmentationFolderBatches(images_dir, masks_dir, (16, 24), batch_size=8, workers=2)
    assert batches.workers == 2 and len(batches) == 1


def test_batches_read_black_and_white_masks_as_the_loader_does(tmp_path, capsys):
    stored = _blobs(np.random.default_rng(14), 5, 10, 14)
    stored[3] = 0  # an all-background mask: still binary, as a set
    images_dir, masks_dir = _labelled_folder(tmp_path, stored)
    images, masks = load_segmentation_folder(images_dir, masks_dir, image_size=(8, 12))
    loader_note = capsys.readouterr().out
    batches = SegmentationFolderBatches(images_dir, masks_dir, (8, 12), batch_size=2, shuffle=False)
    assert capsys.readouterr().out == loader_note and "255 -> class 1 (object)" in loader_note
    streamed = [batches[i] for i in range(len(batches))]
    assert np.array_equal(np.concatenate([b[1] for b in streamed]), masks)
    assert np.array_equal(np.concatenate([b[0] for b in streamed]), images)
    assert set(np.unique(masks)) == {0, 1} and not masks[3].any()


def test_batches_refuse_odd_labels_when_made_with_the_loaders_message(tmp_path):
    images_dir, masks_dir = _labelled_folder(tmp_path, [np.zeros((6, 8)), np.full((6, 8), 2), np.full((6, 8), 5)])
    with pytest.raises(ValueError) as loader_error:
        load_segmentation_folder(images_dir, masks_dir)
    with pytest.raises(ValueError) as batches_error:
        SegmentationFolderBatches(images_dir, masks_dir, (6, 8))
    assert str(batches_error.value) == str(loader_error.value)
    assert "hold the labels 0, 2, 5" in str(batches_error.value)
    with pytest.raises(ValueError, match=r"m2\.png' holds class index 5, but n_classes=3"):
        SegmentationFolderBatches(images_dir, masks_dir, (6, 8), n_classes=3)  # before any batch is read


# Writing.


@pytest.mark.parametrize(
    ("images", "masks", "message"),
    [
        (np.zeros((2, 8, 8)), np.zeros((2, 8, 8), int), r"images must be \(N, H, W, 3\)"),
        (np.zeros((0, 8, 8, 3)), np.zeros((0, 8, 8), int), r"images must be \(N, H, W, 3\) with N >= 1"),
        (np.zeros((2, 8, 8, 3)), np.zeros((2, 8, 9), int), r"masks must be \(N, H, W\) matching"),
        (np.full((1, 8, 8, 3), 1.5), np.zeros((1, 8, 8), int), r"must lie in \[0, 1\]"),
        (np.full((1, 8, 8, 3), np.nan), np.zeros((1, 8, 8), int), r"must lie in \[0, 1\]"),
        (np.zeros((1, 8, 8, 3), np.int64), np.zeros((1, 8, 8), int), "floats in .* or uint8"),
        (np.zeros((1, 8, 8, 3)), np.zeros((1, 8, 8)), "integer class indices"),
        (np.zeros((1, 8, 8, 3)), np.full((1, 8, 8), 256), r"in \[0, 255\]"),
        (np.zeros((1, 8, 8, 3)), np.full((1, 8, 8), -1), r"in \[0, 255\]"),
    ],
)
def test_write_rejects_bad_arrays(tmp_path, images, masks, message):
    with pytest.raises(ValueError, match=message):
        write_segmentation_folder(images, masks, tmp_path / "img", tmp_path / "msk")
    assert not (tmp_path / "img").exists()


def test_write_uint8_overwrites_its_own_files_but_never_mixes_with_others(tmp_path):
    rng = np.random.default_rng(9)
    pixels = rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    labels = rng.integers(0, 256, (2, 8, 8)).astype(np.int64)
    write_segmentation_folder(pixels, labels, tmp_path / "img", tmp_path / "msk")
    stems = write_segmentation_folder(pixels, labels, tmp_path / "img", tmp_path / "msk")  # again: overwrites
    assert stems == ["scene_00000", "scene_00001"]
    images, masks = load_segmentation_folder(tmp_path / "img", tmp_path / "msk", n_classes=256)
    assert np.array_equal(images, pixels / np.float32(255)) and np.array_equal(masks, labels)
    # Fewer scenes than the folder holds: the stale scene_00001 would be read back with them.
    with pytest.raises(ValueError, match=r"images_dir .* already holds 1 other image.*scene_00001\.png"):
        write_segmentation_folder(pixels[:1], labels[:1], tmp_path / "img", tmp_path / "msk")
    with pytest.raises(ValueError, match="same folder"):
        write_segmentation_folder(pixels, labels, tmp_path / "x", tmp_path / "x")
