"""Read segmentation datasets from folders of image files: your own, CARLA's and Oxford-IIIT Pet's.

A segmentation folder is a folder of images (``.png``, ``.jpg``, ``.jpeg``) and one of ``.png`` masks, paired by
file name without extension, the *stem* (``cat.jpg`` with ``cat.png``), in sorted order; hidden files, other
types and subfolders are skipped. Every reader checks the whole folder (pairs, headers, sizes, then all masks'
labels, before any image is decoded) and raises a ``ValueError`` naming the files at fault before returning.

Mask layouts (the ``mask_layout`` argument):

- ``"index"``: a single-channel PNG (mode ``L``, ``P``, ``I`` or 16-bit), each pixel the class index; in a
  palette (``P``) PNG that is the palette index, whatever colour it shows.
- ``"red"``: an RGB(A) PNG with the class index in the red channel (as CARLA's simulator writes them).
- ``"trimap"``: an Oxford-IIIT Pet trimap, 1 pet, 2 background, 3 border, returned as 0, 1, 2.

Labels are judged over the whole mask set, not per file (an all-background mask holds only 0, yet belongs to a
set of 0 and 1). Without ``n_classes`` they must be 0 to n-1, except that a set of only 0 and 255 (a
black-and-white mask) is read as binary, 255 becoming class 1 (:data:`BINARY_CLASS_NAMES`), with a one-line
note; any other set (0, 128, 255) is a ``ValueError`` suggesting a renumbering. With ``n_classes`` every label
must be below it and classes may be missing; 0 and 255 are still binary when ``n_classes`` is 2.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from unet_lib.data import ShuffledBatches
from unet_lib.environment import check_seed

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
"""File endings read as images, in any letter case."""

MASK_EXTENSION = ".png"
"""Masks must be PNG: JPEG's lossy compression would change the labels along every edge."""

CARLA_N_CLASSES = 23
"""Classes in the CARLA masks of the MOOC's U-Net assignment (ids 0 to 22 in the red channel)."""

OXFORD_PETS_CLASS_NAMES = ("pet", "background", "border")
"""Name of each class index returned for Oxford-IIIT Pet (trimap values 1, 2, 3 become 0, 1, 2)."""

BINARY_CLASS_NAMES = ("background", "object")
"""Names of the two classes of a black-and-white mask set (stored 0 and 255, read as 0 and 1)."""

_BINARY_OBJECT_VALUE = 255
"""How an 8-bit mask of 0 and 255 stores the object: white."""

_SINGLE_CHANNEL_MODES = ("1", "L", "P", "I", "I;16", "I;16L", "I;16B", "I;16N")
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")

# The PIL modes each mask layout accepts, and how an error message describes a good mask.
_MASK_LAYOUTS = {
    "index": (_SINGLE_CHANNEL_MODES, "a single-channel PNG of class indices (mode L, P or I)"),
    "red": (("RGB", "RGBA"), "an RGB or RGBA PNG with the class index in its red channel"),
    "trimap": (_SINGLE_CHANNEL_MODES, "a single-channel trimap PNG (1 pet, 2 background, 3 border)"),
}

# Image modes PIL converts to RGB without losing meaning; 16-bit greyscale is scaled by hand.
_IMAGE_MODES = ("1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV")

_SHOWN = 5
"""Most file names one error message lists; it says how many more there are."""

_SHOWN_LABELS = 10
"""Most label values one error message lists."""

_SHOWN_MAPPING = 3
"""Most ``value -> index`` pairs of the renumbering an error message suggests."""


@dataclass(frozen=True)
class _Pair:
    """One image file and its mask file, checked to open and to have the same size."""

    stem: str
    image_path: Path
    mask_path: Path
    size: tuple[int, int]  # (height, width) of both files


@dataclass(frozen=True)
class _FolderNames:
    """How error messages call the two folders: the caller's argument names."""

    images: str = "images_dir"
    masks: str = "masks_dir"


def _name_list(names, shown: int = _SHOWN) -> str:
    """``'a.png, b.png'``, or the first ``shown`` names ``'and 12 more'``."""
    names = list(names)
    text = ", ".join(names[:shown])
    return text + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _parse_image_size(image_size, *, required: bool = False) -> tuple[int, int] | None:
    if image_size is None and not required:
        return None
    try:
        height, width = image_size
        if any(isinstance(side, bool) or int(side) != side or side < 1 for side in (height, width)):
            raise ValueError
    except (TypeError, ValueError):
        expected = "a pair (height, width) of positive integers" + ("" if required else " or None")
        raise ValueError(f"image_size must be {expected}, got {image_size!r}") from None
    return int(height), int(width)


def _parse_layout(mask_layout) -> str:
    if mask_layout not in _MASK_LAYOUTS:
        raise ValueError(f"mask_layout must be one of {', '.join(map(repr, _MASK_LAYOUTS))}, got {mask_layout!r}")
    return mask_layout


def _parse_n_classes(n_classes) -> int | None:
    if n_classes is None:
        return None
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
        raise ValueError(f"n_classes must be a positive integer or None, got {n_classes!r}")
    return int(n_classes)


def _existing_folder(folder, name: str) -> Path:
    if not isinstance(folder, (str, os.PathLike)):
        raise ValueError(f"{name} must be a folder path (str or pathlib.Path), got {folder!r}")
    folder = Path(folder)
    if not folder.exists():
        raise ValueError(f"{name} '{folder}' does not exist")
    if not folder.is_dir():
        raise ValueError(f"{name} '{folder}' is not a folder")
    return folder


def _visible_files(folder: Path) -> list[Path]:
    """The folder's files in name order, without hidden ones (``.DS_Store``, ``._cat.png``)."""
    return sorted(path for path in folder.iterdir() if not path.name.startswith(".") and path.is_file())


def _files_by_stem(files: list[Path], extensions, folder_name: str, folder: Path) -> dict[str, Path]:
    """Map each stem to its file among those with one of ``extensions``; two files, one stem: error."""
    by_stem: dict[str, list[Path]] = {}
    for path in files:
        if path.suffix.lower() in extensions:
            by_stem.setdefault(path.stem, []).append(path)
    clashes = [" and ".join(path.name for path in paths) for paths in by_stem.values() if len(paths) > 1]
    if clashes:
        raise ValueError(
            f"{folder_name} '{folder}' has several files for one name, so it cannot tell which to pair: "
            f"{_name_list(clashes)}; keep one file per name"
        )
    return {stem: paths[0] for stem, paths in by_stem.items()}


def _header(path: Path, kind: str) -> tuple[str, str | None, tuple[int, int]]:
    """``(mode, format, (height, width))`` of an image file, read from its header only."""
    try:
        with Image.open(path) as picture:
            return picture.mode, picture.format, (picture.height, picture.width)
    except Exception as error:  # PIL reports damaged files with many exception types
        raise ValueError(f"cannot read {kind} file '{path}': {error}") from None


def _pair_problems(image_path: Path, mask_path: Path, layout: str) -> tuple[list[str], tuple[int, int] | None]:
    """What is wrong with one pair, judged from the two headers, and the pair's size."""
    try:
        image_mode, _, image_size = _header(image_path, "image")
        mask_mode, mask_format, mask_size = _header(mask_path, "mask")
    except ValueError as error:
        return [str(error)], None
    problems = []
    if image_mode not in _IMAGE_MODES + _SIXTEEN_BIT_MODES:
        problems.append(f"image file '{image_path}' has PIL mode {image_mode}, which cannot be read as RGB")
    modes, expected = _MASK_LAYOUTS[layout]
    if mask_format != "PNG":
        problems.append(f"mask file '{mask_path}' is a {mask_format} file despite its name; masks must be PNG")
    elif mask_mode not in modes:
        try:
            bands = Image.getmodebands(mask_mode)
        except (KeyError, ValueError):  # a mode PIL cannot describe
            bands = 2  # shown as "2 channels": more than the one an index mask has
        problems.append(
            f"mask file '{mask_path}' has PIL mode {mask_mode} ({_plural(bands, 'channel')}), an unknown layout "
            f"for mask_layout={layout!r}: expected {expected}"
        )
    if image_size != mask_size:
        problems.append(
            f"image file '{image_path}' is {_size_text(image_size)} but its mask '{mask_path}' is "
            f"{_size_text(mask_size)}; an image and its mask must have the same size"
        )
    return problems, image_size


def _size_text(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]} (height x width)"


def _scan_folders(
    images_dir, masks_dir, image_size, layout: str, names: _FolderNames | None = None
) -> tuple[list[_Pair], tuple[int, int]]:
    """Pair and check all files from their headers: ``(pairs in stem order, image_size or the common size)``."""
    names = names or _FolderNames()
    images_dir = _existing_folder(images_dir, names.images)
    masks_dir = _existing_folder(masks_dir, names.masks)
    if images_dir.resolve() == masks_dir.resolve():
        raise ValueError(f"{names.images} and {names.masks} are the same folder '{images_dir}'; use two folders")
    image_files, mask_files = _visible_files(images_dir), _visible_files(masks_dir)
    images = _files_by_stem(image_files, IMAGE_EXTENSIONS, names.images, images_dir)
    masks = _files_by_stem(mask_files, (MASK_EXTENSION,), names.masks, masks_dir)
    if not images:
        others = f"; it has {_plural(len(image_files), 'other file')}: {_name_list(p.name for p in image_files)}"
        raise ValueError(
            f"{names.images} '{images_dir}' holds no images ({', '.join(IMAGE_EXTENSIONS)})"
            + (others if image_files else "")
        )
    if not masks:
        raise ValueError(f"{names.masks} '{masks_dir}' holds no masks ({MASK_EXTENSION} files)")

    problems = []
    without_mask = sorted(set(images) - set(masks))
    if without_mask:
        message = (
            f"{_plural(len(without_mask), 'image')} in {names.images} '{images_dir}' "
            f"{'has' if len(without_mask) == 1 else 'have'} no mask of the same name in {names.masks} '{masks_dir}': "
            f"{_name_list(images[stem].name for stem in without_mask)}"
        )
        # A common slip: masks saved as JPEG, which is lossy and so not read as masks.
        jpeg_masks = [p.name for p in mask_files if p.suffix.lower() in (".jpg", ".jpeg") and p.stem in without_mask]
        if jpeg_masks:
            message += f" ({names.masks} has JPEG files {_name_list(jpeg_masks)}, but masks must be PNG)"
        problems.append(message)
    without_image = sorted(set(masks) - set(images))
    if without_image:
        problems.append(
            f"{_plural(len(without_image), 'mask')} in {names.masks} '{masks_dir}' "
            f"{'has' if len(without_image) == 1 else 'have'} no image of the same name in {names.images} "
            f"'{images_dir}': {_name_list(masks[stem].name for stem in without_image)}"
        )
    if problems:
        raise ValueError("\n".join(problems))

    pairs = []
    for stem in sorted(images):
        pair_problems, size = _pair_problems(images[stem], masks[stem], layout)
        problems += pair_problems
        if size is not None:
            pairs.append(_Pair(stem, images[stem], masks[stem], size))
    if problems:
        more = f"\n... and {len(problems) - _SHOWN} more problems" if len(problems) > _SHOWN else ""
        raise ValueError("\n".join(problems[:_SHOWN]) + more)

    if image_size is not None:
        return pairs, image_size
    first = pairs[0]
    for pair in pairs[1:]:
        if pair.size != first.size:
            raise ValueError(
                f"images differ in size: '{first.image_path}' is {_size_text(first.size)} but "
                f"'{pair.image_path}' is {_size_text(pair.size)}; pass image_size=(height, width) to resize them all"
            )
    return pairs, first.size


def _decoded(path: Path, kind: str) -> Image.Image:
    """Open a file and decode its pixels, naming the file if it is damaged."""
    try:
        with Image.open(path) as picture:
            picture.load()
            return picture.copy()
    except Exception as error:  # PIL reports damaged files with many exception types
        raise ValueError(f"cannot read {kind} file '{path}': {error}") from None


def _read_image(path: Path, image_size: tuple[int, int] | None) -> np.ndarray:
    """An image file as float32 RGB of shape ``(H, W, 3)`` in ``[0, 1]``, resized bilinearly."""
    picture = _decoded(path, "image")
    if picture.mode in _SIXTEEN_BIT_MODES:
        # PIL's RGB conversion would clip 16-bit values at 255; scale to [0, 1] as a float image.
        picture = Image.fromarray(np.asarray(picture, dtype=np.float32) / np.float32(65535))
        if image_size is not None:
            picture = picture.resize(image_size[::-1], Image.Resampling.BILINEAR)
        return np.repeat(np.clip(np.asarray(picture), 0, 1)[..., None], 3, axis=-1)
    picture = picture.convert("RGB")
    if image_size is not None:
        picture = picture.resize(image_size[::-1], Image.Resampling.BILINEAR)
    return np.asarray(picture, dtype=np.float32) / np.float32(255)


def _decode_labels(path: Path, layout: str) -> np.ndarray:
    """A mask file's labels as stored, int32 ``(H, W)`` at the file's size (a trimap's 1, 2, 3 already 0, 1, 2)."""
    labels = np.asarray(_decoded(path, "mask"))  # a palette PNG gives its indices, not colours
    if layout == "red":
        labels = labels[..., 0]
    labels = labels.astype(np.int32)
    if layout == "trimap":
        if labels.min() < 1 or labels.max() > 3:
            odd = np.unique(labels[(labels < 1) | (labels > 3)])
            raise ValueError(
                f"trimap '{path}' holds values {_name_list(map(str, odd))}; a trimap holds only "
                f"1 (pet), 2 (background) and 3 (border)"
            )
        labels -= 1
    elif labels.min() < 0:
        raise ValueError(f"mask file '{path}' holds negative values (down to {labels.min()}); class indices start at 0")
    return labels


def _resized_labels(labels: np.ndarray, image_size: tuple[int, int] | None) -> np.ndarray:
    """``(H, W)`` labels resized to ``image_size`` by nearest neighbour (None: as they are)."""
    if image_size is None or labels.shape == image_size:
        return labels
    # Nearest neighbour copies existing labels: a blend of classes 1 and 3 must not become 2.
    return np.asarray(Image.fromarray(labels).resize(image_size[::-1], Image.Resampling.NEAREST))


@dataclass(frozen=True)
class _LabelReading:
    """How the stored labels of a whole mask set become class indices, decided once for the set."""

    binary: bool  # the set holds only 0 and 255: 255 is read as class 1

    def apply(self, labels: np.ndarray) -> np.ndarray:
        """Class indices for stored ``labels`` of any shape (changed in place, and returned)."""
        if self.binary:
            labels[labels == _BINARY_OBJECT_VALUE] = 1
        return labels


def _label_reading(
    values_by_mask: list[tuple[Path, np.ndarray]], layout: str, n_classes: int | None, masks_name: str,
    masks_dir: Path, *, n_classes_is_an_option: bool = True,
) -> _LabelReading:
    """Decide how a mask set's labels are read, from the values of all its masks (the set decides), or raise.

    ``values_by_mask`` holds ``(mask_path, sorted distinct labels)`` per mask (:func:`_decode_labels`);
    ``masks_name`` and ``masks_dir`` name the folder in messages; ``n_classes_is_an_option``: whether a message
    may suggest ``n_classes``. Returns the reading to :meth:`_LabelReading.apply` to every mask; raises
    ``ValueError`` for a label >= ``n_classes``, or (``n_classes`` None) labels not 0 to n-1 nor 0 and 255.
    """
    found = np.unique(np.concatenate([values for _, values in values_by_mask]))
    # 0 and 255 is how image editors and most tools save a black-and-white mask. A caller who
    # says there are other than 2 classes (CARLA's 23) has indices, in which 255 is an error.
    binary = layout != "trimap" and found.tolist() == [0, _BINARY_OBJECT_VALUE] and n_classes in (None, 2)
    reading = _LabelReading(binary)
    if binary:
        print(f"masks in {masks_name} '{masks_dir}' hold only 0 and 255:\n  read as binary, "
              f"0 -> class 0 ({BINARY_CLASS_NAMES[0]}), 255 -> class 1 ({BINARY_CLASS_NAMES[1]})")
    if n_classes is not None:
        for path, values in values_by_mask:
            largest = int(reading.apply(values.copy()).max())
            if largest >= n_classes:
                raise ValueError(
                    f"mask file '{path}' holds class index {largest}, but n_classes={n_classes} allows only 0 to "
                    f"{n_classes - 1}"
                )
    elif layout != "trimap" and not binary and not np.array_equal(found, np.arange(len(found))):
        shown = [f"{value} -> {index}" for index, value in enumerate(found[:_SHOWN_MAPPING].tolist())]
        example = ", ".join(shown) + (", ..." if len(found) > _SHOWN_MAPPING else "")
        option = ", or pass n_classes if they are class indices of which some never occur" if (
            n_classes_is_an_option) else ""
        raise ValueError(
            f"masks in {masks_name} '{masks_dir}' hold the labels {_name_list(map(str, found), _SHOWN_LABELS)} "
            f"(over all masks), which are neither class indices 0 to n-1 nor the 0 and 255 of a black-and-white "
            f"mask; write the masks with labels 0 to {len(found) - 1} instead ({example}){option}"
        )
    return reading


def _read_images(pairs: list[_Pair], image_size: tuple[int, int], resize: bool) -> np.ndarray:
    """Decode the pairs' images into float32 ``(N, H, W, 3)``, resized to ``image_size`` if ``resize``."""
    images = np.empty((len(pairs), *image_size, 3), dtype=np.float32)
    for i, pair in enumerate(pairs):
        images[i] = _read_image(pair.image_path, image_size if resize else None)
    return images


def _load(images_dir, masks_dir, image_size, layout, n_classes, names=None, *, n_classes_is_an_option=True):
    """Check, then read a whole folder: ``(images, masks, label_reading)``; masks first, so bad labels fail fast."""
    image_size = _parse_image_size(image_size)
    layout = _parse_layout(layout)
    n_classes = _parse_n_classes(n_classes)
    names = names or _FolderNames()
    pairs, size = _scan_folders(images_dir, masks_dir, image_size, layout, names)
    masks = np.empty((len(pairs), *size), dtype=np.int32)
    values_by_mask = []
    for i, pair in enumerate(pairs):
        labels = _decode_labels(pair.mask_path, layout)
        values_by_mask.append((pair.mask_path, np.unique(labels)))
        masks[i] = _resized_labels(labels, image_size)
    reading = _label_reading(values_by_mask, layout, n_classes, names.masks, pairs[0].mask_path.parent,
                             n_classes_is_an_option=n_classes_is_an_option)
    return _read_images(pairs, size, resize=image_size is not None), reading.apply(masks), reading


def load_segmentation_folder(
    images_dir, masks_dir, image_size=None, *, mask_layout: str = "index", n_classes: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read a folder of images and a folder of masks into arrays, pairing files by stem.

    Images in any colour mode become RGB (alpha dropped). The whole folder is checked, and the labels of all
    masks judged as one set (see the module docstring), before any image is decoded.

    Args:
        images_dir: folder of image files (``str`` or ``pathlib.Path``).
        masks_dir: folder of ``.png`` masks, one per image, with the image's stem.
        image_size: ``(height, width)`` to resize every pair to (images bilinearly, masks by nearest
            neighbour, so no new label appears); None keeps the files' size, which must then be common.
        mask_layout: ``"index"``, ``"red"`` or ``"trimap"`` (see the module docstring).
        n_classes: the number of classes, if known: labels must be below it, and some may never occur.
            None: the labels over all masks must be 0 to n-1 (or 0 and 255, read as 0 and 1).

    Returns:
        ``(images, masks)`` as :func:`~unet_lib.data.make_shapes_dataset` gives them: float32
        ``(N, H, W, 3)`` in ``[0, 1]`` and int32 ``(N, H, W)``.

    Raises:
        ValueError: naming the folder or files at fault, before anything is returned: a missing or empty folder,
            unpaired files, two images of one stem, an unreadable file, a mask of another layout, differing sizes,
            or labels outside the layout's range or ``n_classes`` (without it: not 0 to n-1, nor 0 and 255).

    Example:
        >>> images, masks = load_segmentation_folder("my_data/images", "my_data/masks", image_size=(96, 128))
    """
    images, masks, _ = _load(images_dir, masks_dir, image_size, mask_layout, n_classes)
    return images, masks


def _dataset_folders(root, images_sub: str, masks_sub: str, dataset: str) -> tuple[Path, Path, _FolderNames]:
    """Check that ``root`` holds a dataset's two folders; name them as ``root/sub`` in errors."""
    root = _existing_folder(root, "root")
    for sub in (images_sub, masks_sub):
        if not (root / sub).is_dir():
            raise ValueError(
                f"root '{root}' has no folder {sub}: the {dataset} layout is root/{images_sub} (images) "
                f"and root/{masks_sub} (masks)"
            )
    return root / images_sub, root / masks_sub, _FolderNames(f"root/{images_sub}", f"root/{masks_sub}")


def load_carla_folder(root, image_size=None) -> tuple[np.ndarray, np.ndarray]:
    """Read the CARLA driving scenes of the MOOC's U-Net assignment.

    The layout is ``root/CameraRGB/*.png`` (images) and ``root/CameraMask/*.png`` (masks of the same
    names, RGB(A) with the class id 0 to 22 in the red channel). In the assignment ``root`` is ``data/``.

    Args:
        root: the folder holding ``CameraRGB`` and ``CameraMask``.
        image_size: ``(height, width)`` to resize to, or None to keep the files' common size.

    Returns:
        ``(images, masks)``: float32 ``(N, H, W, 3)`` in ``[0, 1]`` and int32 ``(N, H, W)``
        with ids in ``[0, CARLA_N_CLASSES)``.

    Raises:
        ValueError: as :func:`load_segmentation_folder`, and for a mask id of 23 or more.

    Example:
        >>> images, masks = load_carla_folder("data", image_size=(96, 128))
    """
    images_dir, masks_dir, names = _dataset_folders(root, "CameraRGB", "CameraMask", "CARLA")
    images, masks, _ = _load(images_dir, masks_dir, image_size, "red", CARLA_N_CLASSES, names)
    return images, masks


def load_oxford_pets_folder(root, image_size) -> tuple[np.ndarray, np.ndarray]:
    """Read Oxford-IIIT Pet as unpacked from its two official archives.

    The layout is ``root/images/*.jpg`` and ``root/annotations/trimaps/*.png`` (``.mat`` and ``._*.png`` files
    skipped). An image without a trimap is an error: a sign of a partly unpacked download.

    Args:
        root: the folder holding ``images`` and ``annotations``.
        image_size: ``(height, width)`` to resize every pair to; required, the photos come in many sizes.

    Returns:
        ``(images, masks)``: float32 ``(N, H, W, 3)`` in ``[0, 1]`` and int32 ``(N, H, W)``
        with 0 pet, 1 background, 2 border.

    Raises:
        ValueError: as :func:`load_segmentation_folder`, and for a trimap value other than 1, 2 or 3.

    Example:
        >>> images, masks = load_oxford_pets_folder("oxford-iiit-pet", image_size=(128, 128))
    """
    _parse_image_size(image_size, required=True)
    images_dir, masks_dir, names = _dataset_folders(root, "images", "annotations/trimaps", "Oxford")
    images, masks, _ = _load(images_dir, masks_dir, image_size, "trimap", None, names)
    return images, masks


def load_dataset_folder(root, image_size) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Read a dataset folder in any layout the course knows, recognised by its sub-folders.

    ``CameraRGB`` and ``CameraMask``: CARLA (:func:`load_carla_folder`); ``images`` and
    ``annotations/trimaps``: Oxford-IIIT Pet (:func:`load_oxford_pets_folder`); ``images`` and ``masks``:
    the generic layout (:func:`load_segmentation_folder`, class indices 0 to n-1, or 0 and 255 read as binary).

    Args:
        root: the dataset folder.
        image_size: ``(height, width)`` every pair is resized to.

    Returns:
        ``(images, masks, class_names)``: images float32 ``(N, H, W, 3)``, masks int32 ``(N, H, W)``, and a
        name per class: the layout's, :data:`BINARY_CLASS_NAMES` for 0/255 masks, or ``"class 0"``,
        ``"class 1"``... up to the largest label.

    Raises:
        ValueError: if ``root`` matches no layout (the message lists them), or as the reader does.
    """
    root = _existing_folder(root, "root")
    if (root / "CameraRGB").is_dir():
        images, masks = load_carla_folder(root, image_size)
        return images, masks, tuple(f"class {index}" for index in range(CARLA_N_CLASSES))
    if (root / "images").is_dir() and (root / "annotations" / "trimaps").is_dir():
        images, masks = load_oxford_pets_folder(root, image_size)
        return images, masks, OXFORD_PETS_CLASS_NAMES
    if (root / "images").is_dir() and (root / "masks").is_dir():
        images_dir, masks_dir, names = _dataset_folders(root, "images", "masks", "generic")
        images, masks, reading = _load(images_dir, masks_dir, image_size, "index", None, names,
                                       n_classes_is_an_option=False)
        if reading.binary:
            return images, masks, BINARY_CLASS_NAMES
        return images, masks, tuple(f"class {index}" for index in range(int(masks.max()) + 1))
    raise ValueError(
        f"root '{root}' matches no known layout: give a folder holding images/ and masks/ (class indices, or "
        "0 and 255), CameraRGB/ and CameraMask/ (CARLA), or images/ and annotations/trimaps/ (Oxford-IIIT Pet)"
    )


class SegmentationFolderBatches(ShuffledBatches):
    """Feeds a folder of images and masks to ``model.fit`` batch by batch, reading only each batch's files.

    For folders too large to load at once. The whole folder is checked on creation (every mask decoded once),
    as by :func:`load_segmentation_folder`, so errors show before training; ``batches[i]`` gives exactly the
    loader's arrays for its files. Order and augmentation follow :class:`~unet_lib.data.ShuffledBatches`.

    Args:
        images_dir: folder of image files.
        masks_dir: folder of mask files with the images' names.
        image_size: ``(height, width)`` every pair is resized to (required: a batch has one shape).
        batch_size: pairs per batch, at least 1; the last batch may be smaller.
        shuffle: whether to visit the pairs in a new random order each epoch.
        seed: seed for the order and the moves, a non-negative integer.
        augment: whether to flip and rotate each batch at random (:func:`~unet_lib.data.augment_batch`).
        mask_layout: ``"index"``, ``"red"`` or ``"trimap"``, as for :func:`load_segmentation_folder`.
        n_classes: the number of classes, if known, as for :func:`load_segmentation_folder`.
        **kwargs: passed to ``keras.utils.PyDataset`` (``workers``, ``use_multiprocessing``...).

    Attributes:
        stems: the file names without extension, in file (unshuffled) order.
        n_images: the number of image-mask pairs, ``len(stems)``.

    Raises:
        ValueError: as :func:`load_segmentation_folder`, or for a bad argument.

    Example:
        >>> batches = SegmentationFolderBatches("my_data/images", "my_data/masks", (96, 128), batch_size=8)
        >>> images, masks = batches[0]  # (8, 96, 128, 3) and (8, 96, 128)
    """

    def __init__(
        self,
        images_dir,
        masks_dir,
        image_size,
        batch_size=32,
        shuffle=True,
        seed=0,
        augment=False,
        mask_layout="index",
        n_classes=None,
        **kwargs,
    ):
        self.image_size = _parse_image_size(image_size, required=True)
        check_seed(seed)
        self.mask_layout = _parse_layout(mask_layout)
        self.n_classes = _parse_n_classes(n_classes)
        names = _FolderNames()
        self._pairs, _ = _scan_folders(images_dir, masks_dir, self.image_size, self.mask_layout, names)
        self.stems = [pair.stem for pair in self._pairs]
        # Checks batch_size, before the slower decoding of every mask below.
        super().__init__(len(self._pairs), batch_size, augment, shuffle, int(seed), **kwargs)
        values_by_mask = [
            (pair.mask_path, np.unique(_decode_labels(pair.mask_path, self.mask_layout))) for pair in self._pairs
        ]
        self._label_reading = _label_reading(values_by_mask, self.mask_layout, self.n_classes, names.masks,
                                             self._pairs[0].mask_path.parent)

    def load_items(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pairs = [self._pairs[i] for i in indices]
        masks = np.stack([
            _resized_labels(_decode_labels(pair.mask_path, self.mask_layout), self.image_size) for pair in pairs
        ])
        return _read_images(pairs, self.image_size, resize=True), self._label_reading.apply(masks)


def write_segmentation_folder(images, masks, images_dir, masks_dir) -> list[str]:
    """Write images and masks as a segmentation folder: RGB PNG images, single-channel PNG masks.

    Files are ``scene_00000.png``, ``scene_00001.png``... (more digits beyond 100000 scenes, so they sort);
    folders are created as needed and files of those names overwritten. :func:`load_segmentation_folder`
    reads them back with equal masks and images within half a step of 1/255 (stored as 8-bit).

    Args:
        images: ``(N, H, W, 3)`` floats in ``[0, 1]`` or uint8 in ``[0, 255]``.
        masks: ``(N, H, W)`` integer class indices in ``[0, 255]``.
        images_dir: folder to write the images to.
        masks_dir: another folder to write the masks to.

    Returns:
        The stems written, in order: ``["scene_00000", ...]``.

    Raises:
        ValueError: for arrays of other shapes, types or ranges, one folder for both, or a folder that
            already holds other images, which would be mixed with these.

    Example:
        >>> write_segmentation_folder(*make_shapes_dataset(2, (32, 32)), "shapes/images", "shapes/masks")
        ['scene_00000', 'scene_00001']
    """
    images, masks = np.asarray(images), np.asarray(masks)
    if images.ndim != 4 or images.shape[-1] != 3 or len(images) == 0:
        raise ValueError(f"images must be (N, H, W, 3) with N >= 1, got shape {images.shape}")
    if masks.shape != images.shape[:3]:
        raise ValueError(f"masks must be (N, H, W) matching images {images.shape}, got shape {masks.shape}")
    if images.dtype == np.uint8:
        pixels = images
    elif np.issubdtype(images.dtype, np.floating):
        if not np.isfinite(images).all() or images.min() < 0 or images.max() > 1:
            raise ValueError(
                f"images of floats must lie in [0, 1], got values from {images.min()} to {images.max()}"
            )
        pixels = np.round(images * 255).astype(np.uint8)
    else:
        raise ValueError(f"images must be floats in [0, 1] or uint8, got dtype {images.dtype}")
    if not (np.issubdtype(masks.dtype, np.integer) or masks.dtype == bool):
        raise ValueError(f"masks must hold integer class indices, got dtype {masks.dtype}")
    if masks.min() < 0 or masks.max() > 255:
        raise ValueError(
            f"masks must hold class indices in [0, 255] to fit an 8-bit PNG, got values from "
            f"{masks.min()} to {masks.max()}"
        )
    for folder, name in ((images_dir, "images_dir"), (masks_dir, "masks_dir")):
        if not isinstance(folder, (str, os.PathLike)):
            raise ValueError(f"{name} must be a folder path (str or pathlib.Path), got {folder!r}")
    images_dir, masks_dir = Path(images_dir), Path(masks_dir)
    if images_dir.resolve() == masks_dir.resolve():
        raise ValueError(f"images_dir and masks_dir are the same folder '{images_dir}'; use two folders")

    digits = max(5, len(str(len(images) - 1)))
    stems = [f"scene_{i:0{digits}d}" for i in range(len(images))]
    names = {stem + ".png" for stem in stems}
    for folder, name in ((images_dir, "images_dir"), (masks_dir, "masks_dir")):
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"{name} '{folder}' is a file, not a folder")
        # Writing beside other images would leave a folder whose pairs are not these arrays.
        others = [
            path.name
            for path in (_visible_files(folder) if folder.exists() else [])
            if path.suffix.lower() in IMAGE_EXTENSIONS and path.name not in names
        ]
        if others:
            raise ValueError(
                f"{name} '{folder}' already holds {_plural(len(others), 'other image')}, which would be mixed "
                f"with these: {_name_list(others)}; write to an empty folder or remove them"
            )
    images_dir.mkdir(parents=True, exist_ok=True)
    masks_dir.mkdir(parents=True, exist_ok=True)
    masks = masks.astype(np.uint8)
    for stem, image, mask in zip(stems, pixels, masks, strict=True):
        Image.fromarray(image).save(images_dir / f"{stem}.png")
        Image.fromarray(mask).save(masks_dir / f"{stem}.png")
    return stems
