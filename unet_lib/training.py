"""Train the course U-Net on the embedded shapes data, to a measured quality, and evaluate it.

The configuration depends on the hardware (:func:`default_config`): on a CPU a small U-Net on 64x64 scenes that
reaches a held-out mean IoU of 0.90 in under three minutes on 2 cores; on a GPU a wider, deeper one on larger
scenes, with mixed precision and XLA (which would slow a CPU down). The ``train`` command lives in
:mod:`unet_lib.cli`, metrics and class weights in :mod:`unet_lib.metrics`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time

import numpy as np

from unet_lib._keras import keras
from unet_lib._validate import check_positive_int
from unet_lib.data import HELD_OUT_SEED, N_CLASSES, make_shapes_dataset
from unet_lib.environment import check_seed, grading_run, list_gpus, set_seed
from unet_lib.metrics import CrossEntropyDiceLoss, balanced_class_weights, mean_iou_metric, pixel_weights
from unet_lib.reference import model as reference_model


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
        class_weighting: ``power`` of :func:`balanced_class_weights` (first epoch's masks) for the loss: 0
            unweighted, 1 every class the same in total. Array data only, not a ``PyDataset``.
        dice_weight: weight of the soft Dice term added to the cross-entropy
            (:class:`unet_lib.metrics.CrossEntropyDiceLoss`; 0: cross-entropy alone).
        mixed_precision: ``None`` for float32, or a Keras dtype policy such as ``"mixed_float16"``.
        jit_compile: compile the train step with XLA (worth it on a GPU only).
        run_eagerly: run the train step as plain Python: slower per step, but saves the seconds of
            compiling, which only a token run (:func:`within_grading_budget`) does not win back.
        seed: seed of the initial weights, shuffling, dropout and the scenes (epoch ``e`` draws with
            ``seed + e``); the same seed on the same machine and backend gives the same model.
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
    """The configuration for this machine: :data:`GPU_CONFIG` if a GPU is visible, else :data:`CPU_CONFIG`
    (with XLA under JAX, which runs uncompiled steps op by op).

    Under grading it is cut to the grading budget (:func:`within_grading_budget`).

    Args:
        gpus: the visible GPUs; ``None`` asks the Keras backend (:func:`unet_lib.environment.list_gpus`).

    Returns:
        A :class:`TrainingConfig`.
    """
    gpus = list_gpus() if gpus is None else gpus
    config = GPU_CONFIG if gpus else CPU_CONFIG
    if keras.backend.backend() == "jax":
        # JAX has no graph of its own: without XLA every op of every step runs one by one, about a hundred
        # times slower on a CPU than compiled.
        config = dataclasses.replace(config, jit_compile=True)
    return within_grading_budget(config)


GRADING_BUDGET = {"n_train": 16, "n_held_out": 8, "epochs": 1}
"""The most a training run does under grading: one epoch of 16 scenes (2 steps), 8 held out, run eagerly."""


def within_grading_budget(config: TrainingConfig) -> TrainingConfig:
    """``config`` itself, or under grading a token run of it (:data:`GRADING_BUDGET`, run eagerly), same model.

    Example:
        >>> within_grading_budget(CPU_CONFIG) == CPU_CONFIG  # not under grading
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

    The warm-up lets Adam's moment estimates settle before steps get large; the decay fine-tunes boundaries.

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

    Layers read the global policy when created, so only a model built in the block uses ``policy`` (``None``: as is).

    Example:
        >>> with dtype_policy_scope("mixed_float16"): layer = keras.layers.Dense(2)
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
        build_model: a function with the signature of :func:`unet_lib.reference.model.unet_model`, such as
            the learner's own from lesson 04; ``None`` for the library's reference.

    Returns:
        A ``keras.Model`` from ``(N, H, W, 3)`` images to ``(N, H, W, n_classes)`` logits.
    """
    build_model = reference_model.unet_model if build_model is None else build_model
    with dtype_policy_scope(config.mixed_precision):
        return build_model((*config.image_size, 3), n_filters=config.n_filters, n_classes=n_classes,
                           depth=config.depth, batch_norm=config.batch_norm, dropout_prob=config.dropout_prob)


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


class EpochProgress(keras.callbacks.Callback):
    """A Keras callback that prints one line per epoch: its number out of all, the losses and mean IoUs, the time.

    For example ``epoch 2/3: loss 0.412, mean IoU 0.713; held out: loss 0.380, mean IoU 0.752 (41 s)``. Keras's
    epoch number, so one ``fit`` call per epoch still reads 1/N to N/N (pass ``verbose=0`` to hide Keras's bar).
    With ``first_batch=True`` it also prints a line when the run's first batch is done, e.g. ``epoch 1/12: first
    batch done (6 s, most of it compiling the training step)``: the first sign of life of a long first epoch.

    Args:
        epochs: the number of epochs of the whole run, the ``N`` of "epoch k/N".
        prefix: printed before each line, e.g. the model's name.
        first_batch: also print a line after the first batch of the first epoch this callback sees.
    """

    LOGGED = (("loss", "loss"), ("mean_iou", "mean IoU"))
    """Keras log keys and their names in the line; validation adds ``val_`` to the key."""

    def __init__(self, epochs: int, prefix: str = "", *, first_batch: bool = False):
        super().__init__()
        self.epochs, self.prefix = check_positive_int("epochs", epochs), prefix
        self._epoch_started = time.perf_counter()
        self._epoch = 0
        self._first_batch_pending = bool(first_batch)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_started = time.perf_counter()
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._first_batch_pending:
            self._first_batch_pending = False
            print(f"{self.prefix}epoch {self._epoch + 1}/{self.epochs}: first batch done "
                  f"({time.perf_counter() - self._epoch_started:.0f} s, most of it compiling the training step)",
                  flush=True)

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


def train_unet(config: TrainingConfig | None = None, *, build_model=None, train_data=None, held_out=None,
               n_classes: int = N_CLASSES, verbose="auto", callbacks=None) -> TrainingRun:
    """Train the U-Net of ``config``, on fresh synthetic scenes or on your data, validating on held-out images.

    Without ``train_data`` each epoch draws ``config.n_train`` new scenes (seed ``config.seed + epoch``), as NumPy
    arrays (a third faster per image on a CPU than a ``PyDataset``); held-out ones use :data:`HELD_OUT_SEED`.
    With ``train_data`` (lesson 06): ``config.epochs`` shuffled passes. Each pixel's loss is weighted by its class
    (``config.class_weighting``; not for a ``PyDataset``), held-out pixels too, so the losses compare; on the
    shapes, weights and the Dice term each tell discs from triangles sooner (docs/BENCHMARKS.md).

    Args:
        config: the configuration; ``None`` for :func:`default_config`.
        build_model: builds the network, with the signature of :func:`unet_lib.reference.model.unet_model`
            (the learner's own in the lessons); ``None`` for the library's reference.
        train_data: ``(images, masks)`` arrays ``(N, H, W, 3)`` and ``(N, H, W)``, or a
            ``keras.utils.PyDataset`` of such batches (e.g. :class:`unet_lib.SegmentationFolderBatches`), with
            ``(H, W)`` equal to ``config.image_size``; ``None`` for the synthetic scenes.
        held_out: ``(images, masks)`` arrays to validate on; required with ``train_data``
            (see :func:`unet_lib.data.split_held_out`).
        n_classes: classes of the masks (``train_data`` labels lie in ``[0, n_classes)``).
        verbose: ``0`` (or ``False``) prints nothing; anything else one line per epoch (:class:`EpochProgress`).
        callbacks: extra Keras callbacks.

    Returns:
        A :class:`TrainingRun`: the model, its history, the class weights and timings (scene generation included).

    Raises:
        ValueError: if only one of ``train_data`` and ``held_out`` is given, their shapes do not match
            ``config.image_size``, or (synthetic scenes) an epoch's seed would be :data:`HELD_OUT_SEED`.
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
