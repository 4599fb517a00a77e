"""Train the course U-Net on the embedded shapes data, to a measured quality, and evaluate it.

The configuration depends on the hardware (:func:`default_config`): on a CPU a small U-Net on
64x64 scenes that reaches a mean IoU of 0.90 on held-out scenes in under three minutes on 2 cores; on a GPU a
wider, deeper one on larger scenes, with mixed precision and XLA compilation. XLA stays off on a
CPU, where it makes training slower.

Also here: per-pixel sample weights against class imbalance (Keras's ``class_weight`` only
weights whole samples) and the evaluation summary of lesson 03. The ``train`` command-line verb
around :func:`train_unet` lives in :mod:`unet_lib.train_command`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time

import numpy as np

from unet_lib import model as reference_model
from unet_lib._keras import keras
from unet_lib._validate import check_positive_int
from unet_lib.checks.core import ExerciseNotWritten, not_written_message
from unet_lib.data import N_CLASSES, make_shapes_dataset
from unet_lib.environment import check_seed, grading_run, list_gpus, set_seed
from unet_lib.inference import batched_logits, labels_from_logits
from unet_lib.metrics import (
    CrossEntropyDiceLoss,
    confusion_matrix,
    dice_per_class,
    iou_per_class,
    mean_iou,
    mean_iou_metric,
    pixel_accuracy,
)

HELD_OUT_SEED = 10_000
"""Seed of the held-out scenes used for evaluation: training never draws from it."""


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """Everything that decides a training run: data, model, optimiser and schedule.

    Attributes:
        image_size: ``(H, W)`` of the scenes; both multiples of ``2**depth``.
        n_filters: filters of the U-Net's first level (doubled at each level down).
        depth: number of poolings.
        batch_norm: batch normalisation after every 3x3 convolution.
        dropout_prob: dropout in the last encoder block and the bottleneck.
        n_train: training scenes per epoch, fresh ones every epoch (seed ``seed + epoch``).
        n_held_out: held-out scenes for validation and the final score (seed :data:`HELD_OUT_SEED`).
        epochs: epochs, each on ``n_train`` new scenes.
        batch_size: scenes per gradient step.
        learning_rate: peak learning rate of Adam, reached after the warm-up.
        warmup_fraction: share of the steps spent raising the learning rate from 0 to the peak.
        class_weighting: how much rarer classes' pixels weigh in the loss: the ``power`` of
            :func:`balanced_class_weights`, from the first epoch's masks (0: unweighted, 1: every
            class weighs the same in total). Applies to array data, not to a ``PyDataset``.
        dice_weight: weight of the soft Dice term added to the cross-entropy
            (:class:`unet_lib.metrics.CrossEntropyDiceLoss`; 0: cross-entropy alone).
        mixed_precision: ``None`` for float32, or a Keras dtype policy such as ``"mixed_float16"``.
        jit_compile: compile the train step with XLA (worth it on a GPU only).
        run_eagerly: run the train step as plain Python instead of a compiled graph: slower per step,
            but without the seconds that compiling takes, which only a token run (nbgrader's, see
            :func:`within_grading_budget`) does not win back.
        seed: seed of the initial weights, the shuffling and dropout, and of the first epoch's
            training scenes (epoch ``e`` draws its scenes with ``seed + e``). Runs with the same seed
            on the same machine and backend give the same model.
    """

    image_size: tuple[int, int] = (64, 64)
    n_filters: int = 8
    depth: int = 4
    batch_norm: bool = True
    dropout_prob: float = 0.0
    n_train: int = 2500
    n_held_out: int = 256
    epochs: int = 3
    batch_size: int = 8
    learning_rate: float = 5e-3
    warmup_fraction: float = 0.1
    class_weighting: float = 0.5
    dice_weight: float = 2.0
    mixed_precision: str | None = None
    jit_compile: bool = False
    run_eagerly: bool = False
    seed: int = 0

    def __post_init__(self):
        for name in ("n_filters", "depth", "n_train", "n_held_out", "epochs", "batch_size"):
            check_positive_int(name, getattr(self, name))
        check_seed(self.seed)
        if not (isinstance(self.learning_rate, (int, float)) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a positive number, got {self.learning_rate!r}")
        if not 0 <= self.warmup_fraction < 1:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {self.warmup_fraction!r}")
        if isinstance(self.class_weighting, bool) or not (
                isinstance(self.class_weighting, (int, float)) and self.class_weighting >= 0):
            raise ValueError(f"class_weighting must be a number >= 0, got {self.class_weighting!r}")
        CrossEntropyDiceLoss(self.dice_weight)  # raises ValueError for a bad dice_weight


CPU_CONFIG = TrainingConfig()
"""The small configuration for a laptop CPU (2 cores): the lesson's and ``train``'s default there."""

GPU_CONFIG = TrainingConfig(
    image_size=(128, 128),
    n_filters=32,
    depth=4,
    n_train=8000,
    n_held_out=512,
    epochs=8,
    batch_size=64,
    learning_rate=3e-3,
    mixed_precision="mixed_float16",
    jit_compile=True,
)
"""The configuration used when a GPU is visible: larger scenes and model, float16 maths, XLA."""


def default_config(gpus: list[str] | None = None) -> TrainingConfig:
    """The configuration for this machine: :data:`GPU_CONFIG` if a GPU is visible, else :data:`CPU_CONFIG`.

    Under nbgrader (:func:`unet_lib.environment.grading_run`) it is cut to the grading budget
    (:func:`within_grading_budget`).

    Args:
        gpus: the visible GPUs; ``None`` asks the Keras backend (:func:`unet_lib.list_gpus`).

    Returns:
        A :class:`TrainingConfig`.
    """
    gpus = list_gpus() if gpus is None else gpus
    return within_grading_budget(GPU_CONFIG if gpus else CPU_CONFIG)


GRADING_BUDGET = {"n_train": 16, "n_held_out": 8, "epochs": 1}
"""The most a training run does under nbgrader: one epoch of 16 scenes (2 steps), 8 held out, run eagerly."""


def within_grading_budget(config: TrainingConfig) -> TrainingConfig:
    """``config`` itself, or under nbgrader a token run of it (:data:`GRADING_BUDGET`, run eagerly), same model.

    Example:
        >>> within_grading_budget(CPU_CONFIG) == CPU_CONFIG  # not under nbgrader
        True
    """
    if not grading_run():
        return config
    # A few steps do not repay compiling the train step (about 9 s of a 12 s token fit on 2 cores).
    return dataclasses.replace(config, run_eagerly=True, jit_compile=False,
                               **{name: min(getattr(config, name), most) for name, most in GRADING_BUDGET.items()})


def describe_device() -> str:
    """The device training runs on, in words: the GPU names, or ``"CPU (N cores)"``."""
    gpus = list_gpus()
    if gpus:
        return ", ".join(gpus)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"CPU ({cores} cores)"


def learning_rate_schedule(config: TrainingConfig, steps: int):
    """Linear warm-up from 0 to ``config.learning_rate``, then cosine decay to 1% of it.

    The warm-up lets Adam's moment estimates settle before the steps get large; the decay lets the
    last epochs fine-tune boundaries with small steps.

    Args:
        config: supplies the peak rate and the warm-up share.
        steps: total number of gradient steps of the run.

    Returns:
        A ``keras.optimizers.schedules.CosineDecay``.
    """
    warmup_steps = max(1, round(steps * config.warmup_fraction))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=max(1, steps - warmup_steps),
        alpha=0.01,
        warmup_target=config.learning_rate,
        warmup_steps=warmup_steps,
    )


@contextlib.contextmanager
def dtype_policy_scope(policy: str | None):
    """Build layers under a Keras dtype policy (``"mixed_float16"``...), then put the global policy back.

    Layers read the global policy when they are created, so a model built inside the ``with`` block
    computes in ``policy``; models built after it do not. ``None`` leaves the policy as it is.

    Example:
        >>> with dtype_policy_scope("mixed_float16"):
        ...     layer = keras.layers.Dense(2)
        >>> layer.compute_dtype, keras.config.dtype_policy().name
        ('float16', 'float32')
    """
    previous_policy = keras.config.dtype_policy()
    if policy:
        keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous_policy)


def build_model_for(config: TrainingConfig, n_classes: int = N_CLASSES, build_model=None):
    """The uncompiled U-Net of ``config``, built by ``build_model`` under ``config.mixed_precision``.

    Args:
        config: gives the image size, width, depth, batch normalisation and dropout.
        n_classes: classes of the masks, the channels of the logits.
        build_model: a function with the signature of :func:`unet_lib.model.unet_model`
            (``input_size, n_filters, n_classes, depth=, batch_norm=, dropout_prob=``), such as the
            learner's own from lesson 03; ``None`` for the library's reference.

    Returns:
        A ``keras.Model`` from ``(N, H, W, 3)`` images to ``(N, H, W, n_classes)`` logits.

    Raises:
        ExerciseNotWritten: if ``build_model`` is an exercise still raising ``NotImplementedError``
            (in a notebook: one line that says so, no traceback).
    """
    build_model = reference_model.unet_model if build_model is None else build_model
    try:
        with dtype_policy_scope(config.mixed_precision):
            return build_model((*config.image_size, 3), n_filters=config.n_filters, n_classes=n_classes,
                               depth=config.depth, batch_norm=config.batch_norm, dropout_prob=config.dropout_prob)
    except NotImplementedError:
        raise ExerciseNotWritten(not_written_message(getattr(build_model, "__name__", "build_model"))) from None


def build_training_model(config: TrainingConfig, steps: int, n_classes: int = N_CLASSES, build_model=None):
    """The U-Net of ``config``, compiled with Adam, the schedule and cross-entropy plus Dice on the logits.

    Args:
        config: the run's configuration.
        steps: total gradient steps (for the learning-rate schedule).
        n_classes: classes of the masks.
        build_model: builds the network, as for :func:`build_model_for` (``None``: the reference).

    Returns:
        A compiled ``keras.Model`` from ``(N, H, W, 3)`` images to ``(N, H, W, n_classes)`` logits,
        logging the loss and a ``mean_iou`` metric.
    """
    model = build_model_for(config, n_classes, build_model)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate_schedule(config, steps)),
        loss=CrossEntropyDiceLoss(config.dice_weight),
        metrics=[mean_iou_metric(n_classes)],
        jit_compile=config.jit_compile,
        run_eagerly=config.run_eagerly,
    )
    return model


def balanced_class_weights(masks: np.ndarray, n_classes: int, power: float = 1.0) -> np.ndarray:
    """One weight per class, inversely proportional to its pixel frequency in ``masks`` (to a power).

    With ``power=1`` every class contributes the same total weight; ``power=0.5`` goes half way
    (in log scale) from no weighting to that. Normalised so that the average pixel of ``masks``
    weighs 1: the loss keeps its scale and the learning rate its meaning. A class absent from
    ``masks`` gets weight 0.

    Args:
        masks: integer labels ``(N, H, W)`` in ``[0, n_classes)``.
        n_classes: number of classes.
        power: exponent of the inverse frequency, >= 0 (0 gives every class weight 1).

    Returns:
        float32 array ``(n_classes,)``.

    Raises:
        ValueError: if ``masks`` does not hold integer labels in ``[0, n_classes)``, or ``power``
            is negative.

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

    Pass the result as ``sample_weight`` to ``model.fit``: for dense targets Keras multiplies each
    pixel's loss by it, which is what ``class_weight`` cannot do (it gives one weight per sample).

    Args:
        masks: integer labels ``(N, H, W)`` in ``[0, len(class_weights))``.
        class_weights: one non-negative weight per class, e.g. from :func:`balanced_class_weights`.

    Returns:
        float32 array ``(N, H, W)``.

    Raises:
        ValueError: if ``class_weights`` is not a 1-D list of non-negative numbers, or ``masks``
            holds labels outside it.

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


def predict_masks(model, images: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """The class of every pixel: the argmax of the model's logits, or logit > 0 for a one-channel model
    (:func:`unet_lib.inference.labels_from_logits`).

    Every forward pass gets exactly ``batch_size`` images (:func:`unet_lib.inference.batched_logits`), the
    last chunk and a single image padded with blank ones that are dropped again. On TensorFlow and JAX a
    compiled forward pass is traced once per input shape: with one shape a model is traced on its
    first call only, so one image after a batch of 256 takes milliseconds, not a new trace (about
    a second, and TensorFlow's retracing warning) as with ``model.predict`` on varying batches.

    Args:
        model: a segmentation model returning ``(N, H, W, n_classes)`` scores.
        images: a batch ``(N, H, W, C)`` or a single image ``(H, W, C)``.
        batch_size: images per forward pass, at least 1; a single image costs as much as this many.

    Returns:
        int32 labels ``(N, H, W)``, or ``(H, W)`` for a single image.

    Raises:
        ValueError: if ``images`` is neither 3-D nor 4-D, or ``batch_size`` is not a positive integer.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must be (N, H, W, C) or a single (H, W, C) image, got shape {images.shape}")
    batch_size = check_positive_int("batch_size", batch_size)
    labels = labels_from_logits(batched_logits(model, images[None] if images.ndim == 3 else images, batch_size))
    return labels[0] if images.ndim == 3 else labels


def evaluate_segmentation(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = N_CLASSES) -> dict:
    """The evaluation summary of lesson 03: pixel accuracy, IoU and Dice per class, mean IoU, confusion.

    Args:
        y_true: true labels ``(N, H, W)``.
        y_pred: predicted labels of the same shape.
        n_classes: number of classes.

    Returns:
        A dictionary with ``pixel_accuracy`` and ``mean_iou`` (floats), ``iou_per_class`` and
        ``dice_per_class`` (lists of floats) and ``confusion_matrix`` (a list of rows of pixel
        counts, true class by predicted class), all JSON-serialisable.

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


class EpochProgress(keras.callbacks.Callback):
    """A Keras callback that prints one line per epoch: its number out of all, the losses and mean IoUs, the time.

    For example ``epoch 2/3: loss 0.412, mean IoU 0.713; held out: loss 0.380, mean IoU 0.752 (41 s)``.
    The epoch number is Keras's own (``fit`` counts from ``initial_epoch``), so a run split into one
    ``fit`` call per epoch still reads 1/N to N/N; pass ``verbose=0`` to ``fit`` so that Keras's own
    progress bar, which labels each call's epochs by that call's ``epochs``, stays out. Logs the
    model does not have (no ``mean_iou`` metric, no validation data) are left out of the line.
    Uses the Keras 3 ``Callback`` API only, so it works on every backend.

    Args:
        epochs: the number of epochs of the whole run, the ``N`` of "epoch k/N".
        prefix: printed before each line, e.g. the model's name.
    """

    LOGGED = (("loss", "loss"), ("mean_iou", "mean IoU"))
    """Keras log keys and their names in the line; validation adds ``val_`` to the key."""

    def __init__(self, epochs: int, prefix: str = ""):
        super().__init__()
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
        self.epochs, self.prefix = epochs, prefix
        self._epoch_started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}

        def scores(key_prefix):
            return ", ".join(f"{name} {float(logs[key_prefix + key]):.3f}"
                             for key, name in self.LOGGED if key_prefix + key in logs)

        line = f"{self.prefix}epoch {epoch + 1}/{self.epochs}: {scores('')}"
        if scores("val_"):
            line += f"; held out: {scores('val_')}"
        print(f"{line} ({time.perf_counter() - self._epoch_started:.0f} s)", flush=True)


@dataclasses.dataclass
class TrainingRun:
    """What :func:`train_unet` returns.

    Attributes:
        model: the trained model.
        config: the configuration it was trained with.
        history: per-epoch logs (``loss``, ``mean_iou``, ``val_loss``, ``val_mean_iou``).
        train_seconds: wall time of ``model.fit``.
        cpu_seconds: CPU time (user + system, all threads) of ``model.fit``.
        images_per_second: training images processed per second of ``train_seconds``.
        held_out: ``(images, masks)`` of the held-out scenes.
        class_weights: the per-class loss weights used (``None`` for a ``PyDataset``).
    """

    model: object
    config: TrainingConfig
    history: dict
    train_seconds: float
    cpu_seconds: float
    images_per_second: float
    held_out: tuple
    class_weights: np.ndarray | None = None


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
        ValueError: if ``images`` and ``masks`` do not pair up, there are fewer than 2 images, or
            ``fraction`` is not in (0, 1).
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


def train_unet(config: TrainingConfig | None = None, *, build_model=None, train_data=None, held_out=None,
               n_classes: int = N_CLASSES, verbose="auto", callbacks=None) -> TrainingRun:
    """Train the U-Net of ``config``, on fresh synthetic scenes or on your data, validating on held-out images.

    Without ``train_data``, every epoch draws ``config.n_train`` new scenes (seed ``config.seed +
    epoch``), so the model never sees a scene twice and cannot overfit them; the held-out scenes come
    from :data:`HELD_OUT_SEED`, which training never uses. Batches come from NumPy arrays: on a CPU
    that costs about a third less time per image than a Python ``PyDataset``.

    With ``train_data`` (lesson 04), the model trains ``config.epochs`` passes over it, shuffled;
    ``config.n_train`` and ``config.n_held_out`` are not used.

    Each pixel's loss is weighted by its class (``config.class_weighting``, weights from the first
    epoch's masks; not for a ``PyDataset``), on held-out images too, so the two losses compare. On
    the shapes, where background is 9 pixels in 10, half-way weights (power 0.5) let the model tell
    discs from triangles about an epoch sooner than no weights; the Dice term of the loss
    (``config.dice_weight``) shortens that plateau further (docs/BENCHMARKS.md).

    Args:
        config: the configuration; ``None`` for :func:`default_config`.
        build_model: the function that builds the network, with the signature of
            :func:`unet_lib.model.unet_model`: the learner's own ``unet_model`` in the lessons;
            ``None`` for the library's reference.
        train_data: ``(images, masks)`` arrays, ``(N, H, W, 3)`` and ``(N, H, W)``, or a
            ``keras.utils.PyDataset`` of such batches (e.g. :class:`unet_lib.SegmentationFolderBatches`),
            with ``(H, W)`` equal to ``config.image_size``. ``None`` for the synthetic scenes.
        held_out: ``(images, masks)`` arrays to validate on; required with ``train_data``
            (see :func:`split_held_out`).
        n_classes: classes of the masks (``train_data`` labels lie in ``[0, n_classes)``).
        verbose: ``0`` (or ``False``) prints nothing; anything else one line per epoch,
            ``epoch k/N`` with the losses and mean IoUs (:class:`EpochProgress`).
        callbacks: extra Keras callbacks.

    Returns:
        A :class:`TrainingRun` with the model, its history, the class weights and the timings
        (scene generation included).

    Raises:
        ValueError: if only one of ``train_data`` and ``held_out`` is given, or their shapes do not
            match ``config.image_size``, or (synthetic scenes) an epoch's seed would be :data:`HELD_OUT_SEED`.
        ExerciseNotWritten: if ``build_model`` is an exercise not written yet.
    """
    config = default_config() if config is None else config
    if (train_data is None) != (held_out is None):
        raise ValueError("train_data and held_out go together: give both (see split_held_out) or neither")
    set_seed(config.seed)
    if train_data is None:
        if config.seed <= HELD_OUT_SEED < config.seed + config.epochs:
            raise ValueError(f"config.seed must keep the epochs' scene seeds (seed to seed + epochs - 1) clear of "
                             f"the held-out seed {HELD_OUT_SEED}, got seed {config.seed} with {config.epochs} epochs")
        held_out = make_shapes_dataset(config.n_held_out, config.image_size, seed=HELD_OUT_SEED)
        epoch_data = (make_shapes_dataset(config.n_train, config.image_size, seed=config.seed + epoch)
                      for epoch in range(config.epochs))  # drawn one epoch at a time
        steps_per_epoch = -(-config.n_train // config.batch_size)
    else:
        held_out = tuple(np.asarray(array) for array in held_out)
        _check_image_size("held_out", held_out[0].shape, config)
        if isinstance(train_data, keras.utils.PyDataset):
            epoch_data, steps_per_epoch = None, len(train_data)
        else:
            train_data = tuple(np.asarray(array) for array in train_data)
            _check_image_size("train_data", train_data[0].shape, config)
            epoch_data = (train_data for _ in range(config.epochs))  # the same images, reshuffled each epoch
            steps_per_epoch = -(-len(train_data[0]) // config.batch_size)
    model = build_training_model(config, config.epochs * steps_per_epoch, n_classes, build_model)
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    callbacks = list(callbacks or [])
    if verbose:
        # Keras's own bar would label the one-epoch fit calls below "Epoch 2/2", "Epoch 3/3".
        callbacks.append(EpochProgress(config.epochs))
    fit_options = dict(validation_batch_size=max(config.batch_size, 64), verbose=0, callbacks=callbacks)
    history: dict[str, list] = {}
    class_weights = None
    if epoch_data is None:
        history = model.fit(train_data, epochs=config.epochs, validation_data=held_out, **fit_options).history
        # A dataset that does not say how many images it holds is counted as full batches.
        n_images = config.epochs * getattr(train_data, "n_images", len(train_data) * config.batch_size)
    else:
        n_images = 0
        for epoch, (images, masks) in enumerate(epoch_data):
            if class_weights is None:
                class_weights = balanced_class_weights(masks, n_classes, config.class_weighting)
                # Held-out pixels weigh the same, so validation and training losses compare.
                weighted_held_out = (*held_out, pixel_weights(held_out[1], class_weights))
            # One fit call per epoch (new scenes each time); the compiled step is reused.
            logs = model.fit(images, masks, sample_weight=pixel_weights(masks, class_weights),
                             batch_size=config.batch_size, epochs=epoch + 1, initial_epoch=epoch, shuffle=True,
                             validation_data=weighted_held_out, **fit_options).history
            for name, values in logs.items():
                history.setdefault(name, []).extend(values)
            n_images += len(images)
    train_seconds = time.perf_counter() - wall_start
    cpu_seconds = time.process_time() - cpu_start
    return TrainingRun(
        model=model,
        config=config,
        history=history,
        train_seconds=train_seconds,
        cpu_seconds=cpu_seconds,
        images_per_second=n_images / train_seconds,
        held_out=held_out,
        class_weights=class_weights,
    )


def _check_image_size(name: str, shape: tuple, config: TrainingConfig) -> None:
    if len(shape) != 4 or tuple(shape[1:3]) != tuple(config.image_size):
        raise ValueError(f"{name} images must have shape (N, {config.image_size[0]}, {config.image_size[1]}, C) "
                         f"to match config.image_size, got {shape}; load them with image_size=config.image_size")
