"""Segmentation metrics on integer label maps, in NumPy; a mean-IoU metric and a Dice loss for ``model.fit``.

All NumPy metrics take ``y_true`` and ``y_pred`` of the same shape, one class index per pixel:
a single ``(H, W)`` map or a batch ``(N, H, W)``. Pixels of the whole batch are pooled, as Keras's
``MeanIoU`` does over an epoch. A class absent from both truth and prediction has no IoU (NaN) and
is left out of the mean.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from unet_lib._keras import keras
from unet_lib._validate import check_positive_int


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
        y_true: integer labels of any shape ``S``, e.g. ``(N, H, W)``, in ``[0, n_classes)``, or
            equal to ``ignore_class``.
        y_pred: integer labels of the same shape ``S``.
        n_classes: number of classes.
        ignore_class: a label of ``y_true`` whose pixels are left out (``y_pred`` there is not looked
            at), e.g. 255 for the void border that Pascal VOC draws around objects; ``None`` keeps all.

    Returns:
        int64 array ``(n_classes, n_classes)``; entry ``[t, p]`` counts pixels of true class ``t``
        predicted as ``p``. The diagonal holds the correct pixels.

    Raises:
        ValueError: if the shapes differ, the labels are not integers, a label of a pixel not
            ignored lies outside ``[0, n_classes)``, ``n_classes`` is not a positive integer, or
            ``ignore_class`` is not None or an integer.

    Example:
        >>> confusion_matrix(np.array([0, 1, 1]), np.array([0, 1, 0]), 2)
        array([[1, 0],
               [1, 1]])
        >>> confusion_matrix(np.array([0, 255, 1]), np.array([0, 1, 1]), 2, ignore_class=255)
        array([[1, 0],
               [0, 1]])
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
        y_true: integer labels of any shape ``S``, e.g. ``(N, H, W)``, in ``[0, n_classes)``.
        y_pred: integer labels of the same shape ``S``.
        n_classes: number of classes.
        ignore_class: a label of ``y_true`` whose pixels are left out, as in :func:`confusion_matrix`.

    Returns:
        float64 array ``(n_classes,)`` with values in ``[0, 1]``; NaN for a class absent from
        both ``y_true`` and ``y_pred``.

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
        y_true: integer labels of any shape ``S``, e.g. ``(N, H, W)``, in ``[0, n_classes)``.
        y_pred: integer labels of the same shape ``S``.
        n_classes: number of classes.
        ignore_class: a label of ``y_true`` whose pixels are left out, as in :func:`confusion_matrix`
            (the prediction there does not change the score).

    Returns:
        A float in ``[0, 1]``; NaN if every pixel is ignored.

    Raises:
        ValueError: as :func:`confusion_matrix`.

    Example:
        >>> mean_iou(np.array([0, 1, 1]), np.array([0, 1, 0]), 3)
        0.5
        >>> mean_iou(np.array([0, 1, 255]), np.array([0, 1, 0]), 2, ignore_class=255)
        1.0
    """
    return _mean_of_present(iou_per_class(y_true, y_pred, n_classes, ignore_class))


def dice_per_class(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Dice coefficient (F1 score) of each class: ``2 |true & pred| / (|true| + |pred|)``.

    Args:
        y_true: integer labels of any shape ``S``, e.g. ``(N, H, W)``, in ``[0, n_classes)``.
        y_pred: integer labels of the same shape ``S``.
        n_classes: number of classes.

    Returns:
        float64 array ``(n_classes,)`` with values in ``[0, 1]``; NaN for a class absent from
        both. Dice and IoU of one class are tied: ``dice = 2 iou / (1 + iou)``.

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

    Easy to read but flattered by a large background: predicting background everywhere on a
    scene that is 80% background scores 0.8. Prefer :func:`mean_iou` to judge a model.

    Args:
        y_true: integer labels of any shape ``S``.
        y_pred: integer labels of the same shape ``S``.

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

    A pixel is in the band when the labels in the ``(2 * band_width + 1)`` square around it are
    not all equal. The band covers both sides of every edge; the image border is not an edge.

    Args:
        y_true: integer labels ``(H, W)`` or a batch ``(N, H, W)``.
        band_width: half-width of the band in pixels, at least 1.

    Returns:
        bool array of the shape of ``y_true``.

    Raises:
        ValueError: if ``y_true`` is not a 2-D or 3-D integer array, or ``band_width`` is not a
            positive integer.

    Example:
        >>> boundary_band(np.array([[0, 0, 0, 1, 1, 1]]), band_width=1).astype(int)
        array([[0, 0, 1, 1, 0, 0]])
    """
    y_true = np.asarray(y_true)
    if y_true.ndim not in (2, 3) or not np.issubdtype(y_true.dtype, np.integer):
        raise ValueError(f"y_true must be integer labels (H, W) or (N, H, W), got {y_true.dtype} {y_true.shape}")
    if isinstance(band_width, bool) or not isinstance(band_width, (int, np.integer)) or band_width < 1:
        raise ValueError(f"band_width must be a positive integer (pixels), got {band_width!r}")
    labels = y_true if y_true.ndim == 3 else y_true[None]
    # Smallest and largest label in each square window, one axis at a time (a square window's
    # minimum is the minimum over rows of the minima over columns). Edge padding repeats the
    # border pixels, so the border of the image never looks like an edge.
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

    Away from edges even a blurry prediction is right; near them only a model that kept fine
    spatial detail is. This score restricts :func:`mean_iou` to :func:`boundary_band`, the pixels
    within ``band_width`` pixels of an edge in ``y_true``, so a wrong blob far from every true edge
    is never counted; Cheng et al.'s Boundary IoU also uses the predicted edges
    (:func:`two_band_boundary_iou`). This band around the true edges is enough to compare models
    on the same truth.

    Args:
        y_true: integer labels ``(H, W)`` or ``(N, H, W)`` in ``[0, n_classes)``.
        y_pred: integer labels of the same shape.
        n_classes: number of classes.
        band_width: half-width of the band in pixels, at least 1.

    Returns:
        A float in ``[0, 1]``; NaN if ``y_true`` has no edge at all.

    Raises:
        ValueError: as :func:`confusion_matrix` and :func:`boundary_band`.

    Example:
        >>> truth = np.array([[0, 0, 0, 1, 1, 1]])
        >>> boundary_iou(truth, np.array([[0, 0, 1, 1, 1, 1]]), 2, band_width=1)
        0.25
    """
    n_classes = check_positive_int("n_classes", n_classes)
    y_true, y_pred = _validate_labels(y_true, y_pred, n_classes)
    band = boundary_band(y_true, band_width)
    if not band.any():
        return float("nan")
    return _mean_of_present(_iou_from_confusion(confusion_matrix(y_true[band], y_pred[band], n_classes)))


def two_band_boundary_iou(y_true, y_pred, n_classes: int, band_width: int = 2) -> float:
    """Cheng et al.'s Boundary IoU: each class's band near its true edges against the band near its predicted ones.

    :func:`boundary_iou` looks only near the *true* edges, so a wrong blob far from them is never
    counted. Here, for each class ``c``, ``G`` is the set of pixels of class ``c`` in ``y_true`` within
    ``band_width`` pixels of that class's edge (the inner band of its mask, from :func:`boundary_band`
    of the mask ``y_true == c``), ``P`` the same for ``y_pred``, and the class scores
    ``|G & P| / |G | P|``, summed over the batch. A false blob has edges of its own, so it enters
    ``P`` and lowers the score. As in :func:`boundary_band`, the image border is not an edge.

    Args:
        y_true: integer labels ``(H, W)`` or ``(N, H, W)`` in ``[0, n_classes)``.
        y_pred: integer labels of the same shape.
        n_classes: number of classes.
        band_width: half-width of the band in pixels, at least 1.

    Returns:
        The mean over the classes whose band is not empty in truth or prediction, a float in
        ``[0, 1]``; NaN if no class has an edge in either.

    Raises:
        ValueError: as :func:`confusion_matrix` and :func:`boundary_band`.

    Example:
        >>> truth = np.array([[0, 0, 0, 1, 1, 1]])
        >>> two_band_boundary_iou(truth, np.array([[0, 0, 1, 1, 1, 1]]), 2, band_width=2)
        0.3333333333333333
    """
    n_classes = check_positive_int("n_classes", n_classes)
    y_true, y_pred = _validate_labels(y_true, y_pred, n_classes)
    scores = np.full(n_classes, np.nan)
    for c in range(n_classes):
        true_band, predicted_band = ((labels == c) & boundary_band((labels == c).astype(np.int8), band_width)
                                     for labels in (y_true, y_pred))
        union = (true_band | predicted_band).sum()
        if union:
            scores[c] = (true_band & predicted_band).sum() / union
    return _mean_of_present(scores)


def mean_iou_metric(n_classes: int, name: str = "mean_iou", ignore_class: int | None = None):
    """A Keras metric for mean IoU during ``fit``, for models that output per-class scores.

    Takes integer targets ``(N, H, W)`` and per-class scores or logits ``(N, H, W, n_classes)`` (it
    takes the argmax itself). It sums a confusion matrix over the epoch, so its value equals
    :func:`mean_iou` on all the epoch's pixels; classes absent from both are left out of the mean.
    Works on every Keras backend and is fast on each: the confusion matrix of a batch is one matrix
    product of one-hot labels, where Keras's own ``MeanIoU`` scatters pixel by pixel, which the
    torch backend runs as a Python loop (about 0.5 s per batch of 8 64x64 scenes on 2 cores).
    A model saved with this metric loads in a process that has imported ``unet_lib.metrics``
    (Keras finds custom classes only once their module is imported).

    Args:
        n_classes: number of classes.
        name: the name Keras logs the metric under (``val_`` + name on validation data).
        ignore_class: a target label whose pixels are left out (e.g. 255, Pascal VOC's void
            border), as in :func:`mean_iou`; ``None`` keeps every pixel.

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
    """Mean IoU over the epoch from a summed ``(n_classes, n_classes)`` confusion matrix.

    See :func:`mean_iou_metric`. ``update_state(y_true, y_pred)`` takes labels ``(N, H, W)`` and
    scores ``(N, H, W, n_classes)``; an optional ``sample_weight`` ``(N, H, W)`` weighs each pixel.
    Pixels whose label is ``ignore_class`` (if not None) weigh 0.
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

    The cross-entropy scores each pixel on its own, so a class that covers few pixels adds little to
    it. The Dice loss scores each class's overlap as a whole: for class ``c``, with ``p`` the softmax
    probabilities and ``t`` the one-hot truth over all pixels of the batch,
    ``D_c = (2 sum(p_c t_c) + 1) / (sum(p_c) + sum(t_c) + 1)``, the Dice score of
    :func:`dice_per_class` made differentiable (probabilities for hard labels; the 1s keep it defined
    for a class absent from the batch). The loss is ``1 - mean_c D_c``: every class counts the same,
    however few its pixels.

    ``call(y_true, y_pred)`` takes labels ``(N, H, W)`` and logits ``(N, H, W, n_classes)`` and
    returns ``(N, H, W)``: each pixel's cross-entropy plus the batch's weighted Dice loss. A
    ``sample_weight`` given to ``fit`` multiplies these per-pixel values, the Dice part included;
    weights that average 1 (:func:`unet_lib.balanced_class_weights`) keep its scale. A model
    compiled with this loss loads in a process that has imported ``unet_lib.metrics``.

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
