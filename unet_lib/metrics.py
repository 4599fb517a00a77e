"""Segmentation metrics on integer label maps, in NumPy; a mean-IoU metric and a Dice loss for ``model.fit``.

NumPy metrics take ``y_true`` and ``y_pred`` of one shape, a class index per pixel (``(H, W)`` or ``(N, H, W)``),
and pool all pixels, as Keras's ``MeanIoU`` does over an epoch. A class absent from both truth and prediction
has no IoU (NaN) and is left out of means.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from unet_lib._keras import keras
from unet_lib._validate import check_positive_int
from unet_lib.data import N_CLASSES


def _validate_labels(y_true, y_pred, n_classes: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Check that both are integer label maps of one shape, with labels in ``[0, n_classes)``."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        hint = ""
        if y_pred.ndim == y_true.ndim + 1:
            hint = " (y_pred looks like per-class scores: take argmax over its last axis first)"
        raise ValueError(
            f"y_true and y_pred must have the same shape, got {y_true.shape} and {y_pred.shape}{hint}"
        )
    if y_true.size == 0:
        raise ValueError(f"y_true and y_pred must hold at least one pixel, got shape {y_true.shape}")
    for name, labels in (("y_true", y_true), ("y_pred", y_pred)):
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"{name} must hold integer class labels, got dtype {labels.dtype}")
        if n_classes is not None and (labels.min() < 0 or labels.max() >= n_classes):
            raise ValueError(
                f"{name} labels must lie in [0, {n_classes}), got values from {labels.min()} to {labels.max()}"
            )
    return y_true, y_pred


def _validate_ignore_class(ignore_class) -> int | None:
    if ignore_class is None:
        return None
    if isinstance(ignore_class, bool) or not isinstance(ignore_class, (int, np.integer)):
        raise ValueError(f"ignore_class must be None or an integer label (e.g. 255), got {ignore_class!r}")
    return int(ignore_class)


def confusion_matrix(y_true, y_pred, n_classes: int, ignore_class: int | None = None) -> np.ndarray:
    """Count pixels by true class (rows) and predicted class (columns).

    Args:
        y_true, y_pred: integer labels of one shape, e.g. ``(N, H, W)``, in ``[0, n_classes)`` (or ``ignore_class``).
        n_classes: number of classes.
        ignore_class: a ``y_true`` label whose pixels are left out (``y_pred`` there is not looked at), e.g.
            255, Pascal VOC's void border; ``None`` keeps all.

    Returns:
        int64 ``(n_classes, n_classes)``; entry ``[t, p]`` counts pixels of true class ``t`` predicted as ``p``.

    Raises:
        ValueError: for differing shapes, non-integer labels, a label (not ignored) outside ``[0, n_classes)``,
            a bad ``n_classes``, or an ``ignore_class`` that is not None or an integer.

    Example:
        >>> confusion_matrix(np.array([0, 1, 1]), np.array([0, 1, 0]), 2)
        array([[1, 0],
               [1, 1]])
    """
    n_classes = check_positive_int("n_classes", n_classes)
    ignore_class = _validate_ignore_class(ignore_class)
    if ignore_class is not None:
        y_true, y_pred = _validate_labels(y_true, y_pred, None)  # shapes and dtypes, before dropping pixels
        kept = y_true != ignore_class
        y_true, y_pred = y_true[kept], y_pred[kept]
        if not kept.any():  # every pixel ignored: nothing to count
            return np.zeros((n_classes, n_classes), dtype=np.int64)
    y_true, y_pred = _validate_labels(y_true, y_pred, n_classes)
    pairs = y_true.ravel().astype(np.int64) * n_classes + y_pred.ravel()
    return np.bincount(pairs, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _iou_from_confusion(confusion: np.ndarray) -> np.ndarray:
    true_positives = np.diag(confusion).astype(np.float64)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - true_positives
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, true_positives / union, np.nan)


def _mean_of_present(scores: np.ndarray) -> float:
    """Mean over the classes that have a score; NaN when none has."""
    present = scores[~np.isnan(scores)]
    return float(present.mean()) if present.size else float("nan")


def iou_per_class(y_true, y_pred, n_classes: int, ignore_class: int | None = None) -> np.ndarray:
    """Intersection over union of each class: ``|true & pred| / |true | pred|``.

    Args:
        y_true, y_pred: integer labels of one shape, e.g. ``(N, H, W)``, in ``[0, n_classes)``.
        n_classes: number of classes.
        ignore_class: a ``y_true`` label whose pixels are left out, as in :func:`confusion_matrix`.

    Returns:
        float64 ``(n_classes,)`` in ``[0, 1]``; NaN for a class absent from both ``y_true`` and ``y_pred``.

    Raises:
        ValueError: as :func:`confusion_matrix`.

    Example:
        >>> iou_per_class(np.array([0, 1, 1]), np.array([0, 1, 0]), 3)
        array([0.5, 0.5, nan])
    """
    return _iou_from_confusion(confusion_matrix(y_true, y_pred, n_classes, ignore_class))


def mean_iou(y_true, y_pred, n_classes: int, ignore_class: int | None = None) -> float:
    """Mean of :func:`iou_per_class` over the classes present in truth or prediction.

    Args:
        y_true, y_pred: integer labels of one shape, e.g. ``(N, H, W)``, in ``[0, n_classes)``.
        n_classes: number of classes.
        ignore_class: a ``y_true`` label whose pixels are left out, as in :func:`confusion_matrix`.

    Returns:
        A float in ``[0, 1]``; NaN if every pixel is ignored.

    Raises:
        ValueError: as :func:`confusion_matrix`.

    Example:
        >>> mean_iou(np.array([0, 1, 255]), np.array([0, 1, 0]), 2, ignore_class=255)
        1.0
    """
    return _mean_of_present(iou_per_class(y_true, y_pred, n_classes, ignore_class))


def dice_per_class(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Dice coefficient (F1 score) of each class: ``2 |true & pred| / (|true| + |pred|)``.

    Args:
        y_true, y_pred: integer labels of one shape, e.g. ``(N, H, W)``, in ``[0, n_classes)``.
        n_classes: number of classes.

    Returns:
        float64 ``(n_classes,)`` in ``[0, 1]``; NaN for a class absent from both. ``dice = 2 iou / (1 + iou)``.

    Raises:
        ValueError: as :func:`confusion_matrix`.

    Example:
        >>> dice_per_class(np.array([0, 1, 1]), np.array([0, 1, 0]), 2)
        array([0.66666667, 0.66666667])
    """
    confusion = confusion_matrix(y_true, y_pred, n_classes)
    true_positives = np.diag(confusion).astype(np.float64)
    sizes = confusion.sum(axis=0) + confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sizes > 0, 2 * true_positives / sizes, np.nan)


def pixel_accuracy(y_true, y_pred) -> float:
    """Fraction of pixels whose predicted class equals the true one.

    Flattered by a large background (all background on an 80% background scene scores 0.8): prefer
    :func:`mean_iou` to judge a model.

    Args:
        y_true, y_pred: integer labels of one shape, e.g. ``(N, H, W)``.

    Returns:
        A float in ``[0, 1]``.

    Raises:
        ValueError: if the shapes differ, are empty, or the labels are not integers.

    Example:
        >>> pixel_accuracy(np.array([0, 1, 1, 2]), np.array([0, 1, 0, 2]))
        0.75
    """
    y_true, y_pred = _validate_labels(y_true, y_pred, None)
    return float(np.mean(y_true == y_pred))


def boundary_band(y_true, band_width: int = 2) -> np.ndarray:
    """Pixels within ``band_width`` pixels of an edge between two classes in ``y_true``.

    A pixel is in the band when its ``(2 * band_width + 1)`` square holds more than one label, so the band
    covers both sides of every edge; the image border is not an edge.

    Args:
        y_true: integer labels ``(H, W)`` or a batch ``(N, H, W)``.
        band_width: half-width of the band in pixels, at least 1.

    Returns:
        bool array of the shape of ``y_true``.

    Raises:
        ValueError: if ``y_true`` is not 2-D or 3-D integers, or ``band_width`` not a positive integer.

    Example:
        >>> boundary_band(np.array([[0, 0, 0, 1, 1, 1]]), band_width=1).astype(int)
        array([[0, 0, 1, 1, 0, 0]])
    """
    y_true = np.asarray(y_true)
    if y_true.ndim not in (2, 3) or not np.issubdtype(y_true.dtype, np.integer):
        raise ValueError(f"y_true must be integer labels (H, W) or (N, H, W), got {y_true.dtype} {y_true.shape}")
    check_positive_int("band_width", band_width)
    labels = y_true if y_true.ndim == 3 else y_true[None]
    # Smallest and largest label in each square window, one axis at a time (min over rows of the minima
    # over columns). Edge padding repeats the border pixels, so the image border never looks like an edge.
    lowest, highest = labels, labels
    for axis in (1, 2):
        padding = [(0, 0)] * 3
        padding[axis] = (band_width, band_width)
        lowest = sliding_window_view(np.pad(lowest, padding, mode="edge"), 2 * band_width + 1, axis=axis).min(-1)
        highest = sliding_window_view(np.pad(highest, padding, mode="edge"), 2 * band_width + 1, axis=axis).max(-1)
    band = lowest != highest
    return band if y_true.ndim == 3 else band[0]


def boundary_iou(y_true, y_pred, n_classes: int, band_width: int = 2) -> float:
    """Mean IoU over the pixels near true object edges only: how well a model draws outlines.

    Away from edges even a blurry prediction is right. This restricts :func:`mean_iou` to
    :func:`boundary_band` of ``y_true``, so a wrong blob far from every true edge is not counted
    (Cheng et al.'s two-band Boundary IoU counts it); enough to compare models on the same truth.

    Args:
        y_true, y_pred: integer labels of one shape, ``(H, W)`` or ``(N, H, W)``, in ``[0, n_classes)``.
        n_classes: number of classes.
        band_width: half-width of the band in pixels, at least 1.

    Returns:
        A float in ``[0, 1]``; NaN if ``y_true`` has no edge at all.

    Raises:
        ValueError: as :func:`confusion_matrix` and :func:`boundary_band`.

    Example:
        >>> boundary_iou(np.array([[0, 0, 0, 1, 1, 1]]), np.array([[0, 0, 1, 1, 1, 1]]), 2, band_width=1)
        0.25
    """
    n_classes = check_positive_int("n_classes", n_classes)
    y_true, y_pred = _validate_labels(y_true, y_pred, n_classes)
    band = boundary_band(y_true, band_width)
    if not band.any():
        return float("nan")
    return _mean_of_present(_iou_from_confusion(confusion_matrix(y_true[band], y_pred[band], n_classes)))


def mean_iou_metric(n_classes: int, name: str = "mean_iou", ignore_class: int | None = None):
    """A Keras metric for mean IoU during ``fit``, for models that output per-class scores.

    Takes integer targets ``(N, H, W)`` and scores or logits ``(N, H, W, n_classes)`` (it takes the argmax).
    It sums a confusion matrix over the epoch, so it equals :func:`mean_iou` on the epoch's pixels. Fast on
    every backend: a batch's confusion matrix is one product of one-hot labels (Keras's ``MeanIoU`` scatters
    pixels, a Python loop on torch). A model saved with it loads once ``unet_lib.metrics`` is imported.

    Args:
        n_classes: number of classes.
        name: the name Keras logs the metric under (``val_`` + name on validation data).
        ignore_class: a target label whose pixels are left out (e.g. 255), as in :func:`mean_iou`.

    Returns:
        A :class:`MeanIoUMetric`.

    Raises:
        ValueError: if ``n_classes`` is not a positive integer, or ``ignore_class`` not None or an integer.

    Example:
        >>> model.compile(optimizer="adam", loss=..., metrics=[mean_iou_metric(3)])  # doctest: +SKIP
    """
    return MeanIoUMetric(n_classes=check_positive_int("n_classes", n_classes), name=name,
                         ignore_class=_validate_ignore_class(ignore_class))


@keras.saving.register_keras_serializable(package="unet_lib")
class MeanIoUMetric(keras.metrics.Metric):
    """Mean IoU over the epoch from a summed ``(n_classes, n_classes)`` confusion matrix (:func:`mean_iou_metric`).

    ``update_state(y_true, y_pred, sample_weight=None)`` takes labels, scores and pixel weights ``(N, H, W)``,
    ``(N, H, W, n_classes)`` and ``(N, H, W)``; pixels labelled ``ignore_class`` weigh 0.
    """

    def __init__(self, n_classes, name="mean_iou", ignore_class=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.n_classes = check_positive_int("n_classes", n_classes)
        self.ignore_class = _validate_ignore_class(ignore_class)
        # float32 counts are exact up to 2**24 pixels per cell, then off by a relative 1e-7 at most.
        self.confusion = self.add_variable(shape=(self.n_classes, self.n_classes), initializer="zeros",
                                           dtype="float32", name="confusion")

    def update_state(self, y_true, y_pred, sample_weight=None):
        ops = keras.ops
        labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        weight = None if sample_weight is None else ops.reshape(ops.cast(sample_weight, "float32"), (-1,))
        if self.ignore_class is not None:
            kept = ops.cast(ops.not_equal(labels, self.ignore_class), "float32")
            weight = kept if weight is None else weight * kept
            # One-hot of an out-of-range label is an error on torch: give ignored pixels label 0, weight 0.
            labels = ops.where(ops.equal(labels, self.ignore_class), 0, labels)
        true = ops.one_hot(labels, self.n_classes, dtype="float32")
        predicted = ops.one_hot(ops.reshape(ops.argmax(y_pred, axis=-1), (-1,)), self.n_classes, dtype="float32")
        if weight is not None:
            true = true * ops.reshape(weight, (-1, 1))
        self.confusion.assign_add(ops.matmul(ops.transpose(true), predicted))

    def result(self):
        ops = keras.ops
        hits = ops.diagonal(self.confusion)
        union = ops.sum(self.confusion, axis=0) + ops.sum(self.confusion, axis=1) - hits
        present = ops.cast(union > 0, "float32")
        iou = hits / ops.maximum(union, 1.0)
        return ops.sum(iou * present) / ops.maximum(ops.sum(present), 1.0)

    def reset_state(self):
        self.confusion.assign(keras.ops.zeros((self.n_classes, self.n_classes), dtype="float32"))

    def get_config(self):
        return {"n_classes": self.n_classes, "name": self.name, "ignore_class": self.ignore_class}


@keras.saving.register_keras_serializable(package="unet_lib")
class CrossEntropyDiceLoss(keras.losses.Loss):
    """Cross-entropy at every pixel plus ``dice_weight`` times the soft Dice loss of the batch.

    Cross-entropy scores pixels one by one, so a class of few pixels adds little; the Dice loss ``1 - mean_c D_c``
    with ``D_c = (2 sum(p_c t_c) + 1) / (sum(p_c) + sum(t_c) + 1)`` over the batch (``p`` softmax probabilities,
    ``t`` one-hot truth; the 1s keep an absent class defined) weighs every class the same.

    ``call(y_true, y_pred)`` takes labels ``(N, H, W)`` and logits ``(N, H, W, n_classes)`` and returns
    ``(N, H, W)``, each pixel's cross-entropy plus the weighted Dice loss; ``sample_weight`` multiplies it all
    (weights averaging 1, e.g. :func:`unet_lib.balanced_class_weights`, keep the scale). A model compiled with
    it loads once ``unet_lib.metrics`` is imported.

    Args:
        dice_weight: weight of the Dice term, a number >= 0 (0: plain cross-entropy).
        name: the loss's name.
        reduction: Keras's reduction of the per-pixel values (default: their weighted mean).
        dtype: dtype of the computation (default: Keras's float type, float32 even under mixed precision).

    Raises:
        ValueError: if ``dice_weight`` is not a number >= 0.

    Example:
        >>> model.compile(optimizer="adam", loss=CrossEntropyDiceLoss(dice_weight=1.0))  # doctest: +SKIP
    """

    def __init__(self, dice_weight=1.0, name="cross_entropy_dice", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if isinstance(dice_weight, bool) or not isinstance(dice_weight, (int, float)) or not dice_weight >= 0:
            raise ValueError(f"dice_weight must be a number >= 0, got {dice_weight!r}")
        self.dice_weight = float(dice_weight)

    def call(self, y_true, y_pred):
        ops = keras.ops
        labels = ops.cast(y_true, "int32")
        cross_entropy = ops.sparse_categorical_crossentropy(labels, y_pred, from_logits=True)  # (N, H, W)
        if self.dice_weight == 0:
            return cross_entropy
        probabilities = ops.softmax(y_pred, axis=-1)
        truth = ops.one_hot(labels, ops.shape(y_pred)[-1], dtype=probabilities.dtype)
        pixel_axes = (0, 1, 2)
        overlap = ops.sum(probabilities * truth, axis=pixel_axes)  # (n_classes,)
        total = ops.sum(probabilities, axis=pixel_axes) + ops.sum(truth, axis=pixel_axes)
        dice_loss = 1.0 - ops.mean((2.0 * overlap + 1.0) / (total + 1.0))
        return cross_entropy + self.dice_weight * dice_loss

    def get_config(self):
        return {**super().get_config(), "dice_weight": self.dice_weight}


def evaluate_segmentation(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = N_CLASSES) -> dict:
    """The evaluation summary of lesson 05: pixel accuracy, IoU and Dice per class, mean IoU, confusion.

    Args:
        y_true, y_pred: true and predicted labels ``(N, H, W)``.
        n_classes: number of classes.

    Returns:
        A JSON-serialisable dict: ``pixel_accuracy`` and ``mean_iou`` (floats), ``iou_per_class`` and
        ``dice_per_class`` (lists) and ``confusion_matrix`` (rows of pixel counts, true by predicted class).

    Raises:
        ValueError: as :func:`unet_lib.metrics.confusion_matrix`.
    """
    return {
        "pixel_accuracy": pixel_accuracy(y_true, y_pred),
        "mean_iou": mean_iou(y_true, y_pred, n_classes),
        "iou_per_class": iou_per_class(y_true, y_pred, n_classes).tolist(),
        "dice_per_class": dice_per_class(y_true, y_pred, n_classes).tolist(),
        "confusion_matrix": confusion_matrix(y_true, y_pred, n_classes).tolist(),
    }


def balanced_class_weights(masks: np.ndarray, n_classes: int, power: float = 1.0) -> np.ndarray:
    """One weight per class, inversely proportional to its pixel frequency in ``masks`` (to a power).

    With ``power=1`` every class gets the same total weight; ``power=0.5`` goes half way (in log scale).
    Normalised so the average pixel weighs 1, so the loss keeps its scale and the learning rate its meaning.
    A class absent from ``masks`` gets weight 0.

    Args:
        masks: integer labels ``(N, H, W)`` in ``[0, n_classes)``.
        n_classes: number of classes.
        power: exponent of the inverse frequency, >= 0 (0 gives every class weight 1).

    Returns:
        float32 array ``(n_classes,)``.

    Raises:
        ValueError: if ``masks`` holds labels that are not integers in ``[0, n_classes)``, or ``power`` < 0.

    Example:
        >>> balanced_class_weights(np.array([[0, 0, 0, 1]]), 2)
        array([0.6666667, 2.       ], dtype=float32)
    """
    if isinstance(power, bool) or not isinstance(power, (int, float)) or power < 0:
        raise ValueError(f"power must be a number >= 0, got {power!r}")
    counts = np.bincount(_validated_masks(masks, n_classes).ravel(), minlength=n_classes).astype(np.float64)
    with np.errstate(divide="ignore"):
        weights = np.where(counts > 0, (counts.sum() / (n_classes * counts)) ** power, 0.0)
    # Rescale so the mean weight over all pixels is exactly 1 (it differs when a class is absent).
    weights *= counts.sum() / (weights * counts).sum()
    return weights.astype(np.float32)


def pixel_weights(masks: np.ndarray, class_weights) -> np.ndarray:
    """Per-pixel sample weights: each pixel weighs what its class does.

    Pass the result as ``sample_weight`` to ``model.fit``: Keras multiplies each pixel's loss by it, which
    ``class_weight`` (one weight per sample) cannot do.

    Args:
        masks: integer labels ``(N, H, W)`` in ``[0, len(class_weights))``.
        class_weights: one non-negative weight per class, e.g. from :func:`balanced_class_weights`.

    Returns:
        float32 array ``(N, H, W)``.

    Raises:
        ValueError: if ``class_weights`` is not 1-D non-negative numbers, or ``masks`` holds labels outside it.

    Example:
        >>> pixel_weights(np.array([[0, 1]]), [0.5, 2.0])
        array([[0.5, 2. ]], dtype=float32)
    """
    class_weights = np.asarray(class_weights, dtype=np.float32)
    if class_weights.ndim != 1 or class_weights.size == 0 or (class_weights < 0).any():
        raise ValueError(f"class_weights must be a 1-D list of non-negative numbers, got {class_weights!r}")
    return class_weights[_validated_masks(masks, class_weights.size)]


def _validated_masks(masks, n_classes: int) -> np.ndarray:
    masks = np.asarray(masks)
    if not np.issubdtype(masks.dtype, np.integer):
        raise ValueError(f"masks must hold integer class labels, got dtype {masks.dtype}")
    if masks.size and (masks.min() < 0 or masks.max() >= n_classes):
        raise ValueError(f"masks labels must lie in [0, {n_classes}), got values from {masks.min()} to {masks.max()}")
    return masks
