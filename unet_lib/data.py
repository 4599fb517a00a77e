"""The course's embedded dataset: synthetic scenes of discs and triangles, generated in memory (no download).

A scene is a noisy, striped background with one to four flat shapes of random size, position and orientation,
which may overlap (a later shape hides an earlier one) and run off the border. A shape's colour is drawn
independently of its class, so no pixel's colour gives its class away: a network has to recognise the shape.
Classes: 0 background, 1 disc, 2 triangle (:data:`CLASS_NAMES`).
"""

from __future__ import annotations

import math

import numpy as np

from unet_lib._keras import keras
from unet_lib._validate import check_positive_int
from unet_lib.environment import check_seed

CLASS_NAMES = ("background", "disc", "triangle")
"""Name of each class index in the masks."""

N_CLASSES = len(CLASS_NAMES)

MAX_SHAPES = 4
"""Most shapes in one scene; each scene has between 1 and this many."""

RADIUS_RANGE = (0.12, 0.25)
"""Smallest and largest shape radius, as fractions of the image's shorter side."""

_CHUNK = 256
"""Scenes drawn together: enough for NumPy to work on large arrays, few enough to bound the memory used."""


def _validate_image_size(image_size) -> tuple[int, int]:
    try:
        height, width = (int(side) for side in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"image_size must be a pair (height, width), got {image_size!r}") from None
    if height < 16 or width < 16:
        raise ValueError(f"image_size must be at least (16, 16) so shapes fit, got {image_size!r}")
    return height, width


def _draw_chunk(rng: np.random.Generator, n: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` scenes at once; every step works on whole ``(n, H, W)`` arrays."""
    scale = min(height, width)
    rows = np.arange(height, dtype=np.float32)[None, :, None] + 0.5
    cols = np.arange(width, dtype=np.float32)[None, None, :] + 0.5

    # Which shape is on top at each pixel (0 background, slot + 1 a shape; a later slot hides an earlier
    # one). Colours and classes are looked up from this map once at the end, not painted per slot.
    on_top = np.zeros((n, height, width), dtype=np.uint8)
    n_shapes = rng.integers(1, MAX_SHAPES + 1, n)
    is_triangle = rng.random((n, MAX_SHAPES)) < 0.5
    # Radii in pixels: a disc's radius, or a triangle's inradius scaled so both classes cover
    # similar areas (an equilateral triangle of inradius r covers 3*sqrt(3)*r**2, a disc pi*r**2).
    radius = rng.uniform(*RADIUS_RANGE, (n, MAX_SHAPES)).astype(np.float32) * scale
    inradius = radius * np.float32(math.sqrt(math.pi / (3 * math.sqrt(3))))
    centre_row = rng.uniform(0, height, (n, MAX_SHAPES)).astype(np.float32)
    centre_col = rng.uniform(0, width, (n, MAX_SHAPES)).astype(np.float32)
    turn = rng.uniform(0, 2 * math.pi, (n, MAX_SHAPES))
    for slot in range(MAX_SHAPES):
        d_row = rows - centre_row[:, slot, None, None]  # (n, H, 1)
        d_col = cols - centre_col[:, slot, None, None]  # (n, 1, W)
        inside = np.zeros((n, height, width), dtype=bool)
        discs = np.flatnonzero(~is_triangle[:, slot] & (slot < n_shapes))
        triangles = np.flatnonzero(is_triangle[:, slot] & (slot < n_shapes))
        inside[discs] = d_row[discs] ** 2 + d_col[discs] ** 2 <= radius[discs, slot, None, None] ** 2
        # Inside an equilateral triangle: within the inradius along each of its three edge normals.
        normals = turn[triangles, slot, None] + np.arange(3) * (2 * math.pi / 3)  # (t, 3)
        cos, sin = np.cos(normals).astype(np.float32), np.sin(normals).astype(np.float32)
        farthest = np.maximum.reduce(
            [cos[:, k, None, None] * d_col[triangles] + sin[:, k, None, None] * d_row[triangles] for k in range(3)]
        )
        inside[triangles] = farthest <= inradius[triangles, slot, None, None]
        # Slots are painted in increasing order, so the larger index is the one on top.
        np.maximum(on_top, inside.view(np.uint8) * np.uint8(slot + 1), out=on_top)

    # Each shape's colour is the background's shifted by 0.3 to 0.7 per channel, wrapping round: every channel
    # differs from the background by at least 0.3, and a shape's colour is uniform on [0, 1] whatever its class.
    background = rng.random((n, 1, 3), dtype=np.float32)
    shape_colours = (background + rng.uniform(0.3, 0.7, (n, MAX_SHAPES, 3)).astype(np.float32)) % 1.0
    palette = np.concatenate([background, shape_colours], axis=1)  # (n, 1 + MAX_SHAPES, 3)
    labels = np.concatenate([np.zeros((n, 1), np.int32), np.where(is_triangle, 2, 1)], axis=1)
    # Row of each pixel's colour and class in the palettes flattened over scenes.
    entry = on_top + (np.arange(n, dtype=np.int32) * (1 + MAX_SHAPES))[:, None, None]
    images = np.take(palette.reshape(-1, 3), entry, axis=0)
    masks = np.take(labels.ravel(), entry)

    # Striped background: a sinusoid of random orientation, period 4 to 10 pixels, amplitude 0.08 to 0.14 (below
    # the shapes' 0.3 contrast, so no edge is hidden). Shapes are flat: a pixel's colour says nothing, but its
    # neighbourhood tells background from shape, the context a network must learn to use.
    angle = rng.uniform(0, math.pi, (n, 1, 1)).astype(np.float32)
    period = rng.uniform(4, 10, (n, 1, 1)).astype(np.float32)
    phase = rng.uniform(0, 2 * math.pi, (n, 1, 1)).astype(np.float32)
    stripes = np.sin((np.cos(angle) * cols + np.sin(angle) * rows) * (2 * math.pi / period) + phase)
    amplitude = rng.uniform(0.08, 0.14, (n, 1, 1)).astype(np.float32)
    images += (amplitude * stripes * (on_top == 0))[..., None]
    # Then pixel noise everywhere, uniform in [-0.06, 0.06].
    noise = rng.random(images.shape, dtype=np.float32)
    noise -= 0.5
    noise *= 0.12
    images += noise
    np.clip(images, 0.0, 1.0, out=images)
    return images, masks


def make_shapes_dataset(
    n: int, image_size: tuple[int, int] = (64, 64), seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Generate ``n`` synthetic scenes of discs and triangles with their label masks.

    The same ``(n, image_size, seed)`` always gives the same arrays; use another seed for held-out scenes.

    Args:
        n: number of scenes, at least 1.
        image_size: ``(height, width)`` in pixels, each at least 16.
        seed: seed of the random generator, a non-negative integer.

    Returns:
        ``(images, masks)``: float32 ``(n, H, W, 3)`` in ``[0, 1]`` and int32 ``(n, H, W)`` with 0 background,
        1 disc, 2 triangle (:data:`CLASS_NAMES`).

    Raises:
        ValueError: for an invalid ``n`` or ``seed``, or an ``image_size`` that is not a pair of sides >= 16.

    Example:
        >>> images, masks = make_shapes_dataset(8, image_size=(32, 48))  # (8, 32, 48, 3) and (8, 32, 48)
    """
    check_positive_int("n", n)
    check_seed(seed)
    height, width = _validate_image_size(image_size)
    rng = np.random.default_rng(seed)
    images = np.empty((n, height, width, 3), dtype=np.float32)
    masks = np.empty((n, height, width), dtype=np.int32)
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        images[start:stop], masks[start:stop] = _draw_chunk(rng, stop - start, height, width)
    return images, masks


def augment_batch(
    images: np.ndarray, masks: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Flip and rotate each scene of a batch at random, its mask the same way.

    Each scene gets a random left-right flip, then random quarter turns (square scenes) or half turns
    (others, so the batch keeps its shape). Shapes stay shapes, so the labels remain right.

    Args:
        images: ``(N, H, W, C)`` array.
        masks: ``(N, H, W)`` array of class labels.
        rng: NumPy random generator that picks the moves.

    Returns:
        ``(images, masks)``: new arrays of the same shapes and dtypes.

    Raises:
        ValueError: if the arrays are not ``(N, H, W, C)`` and ``(N, H, W)`` with matching sizes.
    """
    images, masks = np.asarray(images), np.asarray(masks)
    if images.ndim != 4 or masks.shape != images.shape[:3]:
        raise ValueError(
            f"images must be (N, H, W, C) and masks (N, H, W) of the same N, H, W; "
            f"got images {images.shape} and masks {masks.shape}"
        )
    n, height, width = masks.shape
    flip = rng.random(n) < 0.5
    turns = rng.integers(0, 4, n) if height == width else 2 * rng.integers(0, 2, n)
    images, masks = images.copy(), masks.copy()
    images[flip], masks[flip] = images[flip, :, ::-1], masks[flip, :, ::-1]
    # Group the scenes by number of turns: one np.rot90 call per group, not per scene.
    for k in range(1, 4):
        chosen = turns == k
        if chosen.any():
            images[chosen] = np.rot90(images[chosen], k, axes=(1, 2))
            masks[chosen] = np.rot90(masks[chosen], k, axes=(1, 2))
    return images, masks


class ShuffledBatches(keras.utils.PyDataset):
    """Batches of ``n_images`` items in a new order each epoch, optionally flipped and rotated.

    Order and moves depend only on ``seed``, the epoch and the batch index, so a run is repeatable.
    Subclasses fetch the chosen items in :meth:`load_items`.

    Args:
        n_images: how many items there are.
        batch_size: items per batch, at least 1; the last batch may be smaller.
        augment: whether to flip and rotate each batch at random (:func:`augment_batch`).
        shuffle: whether to visit the items in a new random order each epoch.
        seed: seed for the order and the moves.
        **kwargs: passed to ``keras.utils.PyDataset`` (``workers``, ``use_multiprocessing``...).

    Attributes:
        n_images: the number of items.
    """

    def __init__(self, n_images, batch_size=32, augment=True, shuffle=True, seed=0, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("batch_size", batch_size)
        self.n_images = int(n_images)
        self.batch_size, self.augment, self.shuffle, self.seed = int(batch_size), augment, shuffle, seed
        self.epoch = 0
        self._order = self._epoch_order()

    def load_items(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ``(images, masks)`` of these item indices, ``(B, H, W, C)`` and ``(B, H, W)``."""
        raise NotImplementedError

    def _epoch_order(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.n_images)
        return np.random.default_rng([self.seed, self.epoch]).permutation(self.n_images)

    def __len__(self) -> int:
        return math.ceil(self.n_images / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < len(self):
            raise IndexError(f"batch index {index} out of range for {len(self)} batches")
        images, masks = self.load_items(self._order[index * self.batch_size:(index + 1) * self.batch_size])
        if self.augment:
            images, masks = augment_batch(images, masks, np.random.default_rng([self.seed, self.epoch, index, 1]))
        return images, masks

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order = self._epoch_order()


class ShapesBatches(ShuffledBatches):
    """Feeds scenes and masks to ``model.fit`` in shuffled, optionally augmented batches.

    A ``keras.utils.PyDataset``, so it works on every backend; order and moves as in :class:`ShuffledBatches`.

    Args:
        images: ``(N, H, W, C)`` float array.
        masks: ``(N, H, W)`` integer labels (the targets of a sparse categorical loss).
        batch_size: scenes per batch, at least 1; the last batch may be smaller.
        augment: whether to flip and rotate the batches (:func:`augment_batch`).
        shuffle: whether to visit the scenes in a new random order each epoch.
        seed: seed for the order and the moves.
        **kwargs: passed to ``keras.utils.PyDataset`` (``workers``, ``use_multiprocessing``...).

    Attributes:
        n_images: the number of scenes, ``N``.

    Raises:
        ValueError: if the arrays do not match or ``batch_size`` is not a positive integer.

    Example:
        >>> batches = ShapesBatches(*make_shapes_dataset(64), batch_size=16)
        >>> len(batches), batches[0][0].shape
        (4, (16, 64, 64, 3))
    """

    def __init__(self, images, masks, batch_size=32, augment=True, shuffle=True, seed=0, **kwargs):
        images, masks = np.asarray(images), np.asarray(masks)
        if images.ndim != 4 or masks.shape != images.shape[:3] or len(images) == 0:
            raise ValueError(
                f"images must be (N, H, W, C) and masks (N, H, W) with the same N >= 1, H and W; "
                f"got images {images.shape} and masks {masks.shape}"
            )
        self.images, self.masks = images, masks
        super().__init__(len(images), batch_size, augment, shuffle, seed, **kwargs)

    def load_items(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.images[indices], self.masks[indices]


HELD_OUT_SEED = 10_000
"""Seed of the held-out scenes used for evaluation: training never draws from it."""


def split_held_out(images: np.ndarray, masks: np.ndarray, fraction: float = 0.1, seed: int = HELD_OUT_SEED):
    """Set aside a random share of a dataset for evaluation.

    Args:
        images: ``(N, H, W, C)`` images.
        masks: ``(N, H, W)`` integer labels.
        fraction: share held out, in (0, 1); at least one image goes to each side.
        seed: seed of the random split.

    Returns:
        ``((train_images, train_masks), (held_out_images, held_out_masks))``.

    Raises:
        ValueError: if ``images`` and ``masks`` do not pair up, hold fewer than 2 images, or ``fraction`` is
            not in (0, 1).
    """
    images, masks = np.asarray(images), np.asarray(masks)
    if images.ndim != 4 or masks.shape != images.shape[:3]:
        raise ValueError(f"images (N, H, W, C) and masks (N, H, W) must pair up, got shapes {images.shape} "
                         f"and {masks.shape}")
    if len(images) < 2:
        raise ValueError(f"images must hold at least 2 images to split, got {len(images)}")
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    n_held_out = min(len(images) - 1, max(1, round(fraction * len(images))))
    order = np.random.default_rng(seed).permutation(len(images))
    held, kept = np.sort(order[:n_held_out]), np.sort(order[n_held_out:])
    return (images[kept], masks[kept]), (images[held], masks[held])
