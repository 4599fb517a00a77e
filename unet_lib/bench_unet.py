"""``python -m unet_lib bench unet``: how fast the course U-Net trains and predicts on this machine.

Builds and compiles the U-Net exactly as the ``train`` verb does
(:func:`unet_lib.training.build_training_model`: batch normalisation, Adam with its schedule,
sparse cross-entropy on logits, the mean-IoU metric), feeds it one fixed batch of random images and
labels, and times training steps and forward passes after a warm-up. It prints one line of JSON
with images per second and, from a count of the convolutions' multiply-adds, the TFLOP/s achieved.

The batch is already on the device before timing starts: this measures the model, not an input
pipeline. Each timed step ends by reading its result back as a number or a NumPy array, so
asynchronous GPU work is finished inside the step it belongs to.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np

from unet_lib._validate import check_positive_int as _check_positive_int

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
"""Keras dtype policies the benchmark accepts; ``mixed_*`` compute in 16 bits and keep float32 weights."""

PRESETS = {
    "course": {"image_size": (64, 64), "n_filters": 8, "depth": 4, "batch_size": 8, "n_classes": 3},
    # The MOOC's U-Net assignment: 96x128 CARLA frames, 32 filters, 23 classes.
    "mooc": {"image_size": (96, 128), "n_filters": 32, "depth": 4, "batch_size": 32, "n_classes": 23},
    # NVIDIA's UNet_Medical TF2 example (Ronneberger et al.'s widths, 64 to 1024 filters): 572x572
    # there; 576 is the nearest size a depth-4 "same"-padded U-Net takes (a multiple of 16). With
    # the course's 3x3 transposed convolutions (2x2 there) it has 34.6M parameters, not 31M.
    "unet-medical": {"image_size": (576, 576), "n_filters": 64, "depth": 4, "batch_size": 8, "n_classes": 2},
}
"""Model and batch settings of ``bench unet --preset NAME``; explicit options override them."""

GPU_PEAK_TFLOPS = {
    # Dense peaks from NVIDIA's data sheets: float32 on the CUDA cores, 16-bit on the Tensor Cores.
    "H200": {"float32": 67.0, "16-bit": 989.0},
    "H100": {"float32": 67.0, "16-bit": 989.0},
    "A100": {"float32": 19.5, "16-bit": 312.0},
    "L4": {"float32": 30.3, "16-bit": 121.0},
    "V100": {"float32": 15.7, "16-bit": 125.0},
    "T4": {"float32": 8.1, "16-bit": 65.0},
}
"""Peak TFLOP/s per GPU model (SXM parts; a PCIe card peaks lower), to report a fraction of peak."""

TRAINING_FLOPS_PER_FORWARD = 3
"""A training step costs about three forward passes: the forward pass, then the gradients with
respect to the inputs and with respect to the weights, each as costly as the forward pass."""


def conv_flops_per_image(model) -> int:
    """Floating-point operations of one forward pass of one image through the model's convolutions.

    A multiply-add counts as 2 operations. A ``Conv2D`` with a ``k_h x k_w`` kernel producing an
    ``(H_out, W_out, C_out)`` output from ``C_in`` channels does ``2 H_out W_out k_h k_w C_in C_out``
    (divided by ``groups``). A ``Conv2DTranspose`` is the gradient of a convolution running the
    other way, so it does ``2 H_in W_in k_h k_w C_in C_out`` with its *input's* height and width:
    each input pixel is multiplied into one ``k_h x k_w x C_out`` patch. Biases, batch
    normalisation, activations, pooling and concatenation are left out (a few percent at most in
    a U-Net). Multiply by :data:`TRAINING_FLOPS_PER_FORWARD` for a training step.

    Args:
        model: a built ``keras.Model`` with a fixed input height and width, made of layers at its
            top level (as :func:`unet_lib.model.unet_model` is).

    Returns:
        The number of operations per image, an ``int``.

    Raises:
        ValueError: if a convolution's spatial size is unknown (``None`` height or width), or the
            model holds a convolution type this counter does not know (depthwise, separable, 1-D,
            3-D, or a nested model), which would otherwise be counted as zero.

    Example:
        >>> inputs = keras.Input((4, 6, 2))
        >>> outputs = keras.layers.Conv2D(3, 3, padding="same")(inputs)  # 2 * 4*6 * 3*3 * 2*3
        >>> conv_flops_per_image(keras.Model(inputs, outputs))
        2592
    """
    from unet_lib._keras import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, height, width, _ = layer.output.shape
            channels_in = layer.input.shape[-1] // layer.groups
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            _, height, width, channels_in = layer.input.shape
        elif "conv" in type(layer).__name__.lower() or isinstance(layer, keras.Model):
            raise ValueError(
                f"conv_flops_per_image counts Conv2D and Conv2DTranspose layers only; layer {layer.name!r} "
                f"is a {type(layer).__name__}"
            )
        else:
            continue
        if height is None or width is None:
            raise ValueError(
                f"conv_flops_per_image needs a model with a fixed image size; layer {layer.name!r} has "
                f"spatial size {height} x {width}"
            )
        kernel_height, kernel_width = layer.kernel_size
        total += 2 * height * width * kernel_height * kernel_width * channels_in * layer.filters
    return int(total)


def _validated_image_size(image_size, depth: int) -> tuple[int, int]:
    try:
        height, width = image_size
    except (TypeError, ValueError):
        raise ValueError(f"image_size must be a pair (height, width), got {image_size!r}") from None
    height, width = _check_positive_int("image_size height", height), _check_positive_int("image_size width", width)
    multiple = 2**depth
    if height % multiple or width % multiple:
        nearest = [max(multiple, round(side / multiple) * multiple) for side in (height, width)]
        raise ValueError(
            f"image_size {height} {width}: height and width must be multiples of 2**depth = {multiple} "
            f"(depth {depth}: each pooling halves the size); for example {nearest[0]} {nearest[1]}"
        )
    return height, width


def validated_settings(image_size, n_filters, depth, batch_size, precision, steps, warmup_steps, jit_compile,
                       n_classes) -> dict:
    """Check the arguments of :func:`run_unet_benchmark` before any model is built.

    Returns:
        The arguments by name, integers as ``int`` and ``image_size`` as a ``(H, W)`` tuple.

    Raises:
        ValueError: naming the first argument that is wrong and what was expected.
    """
    settings = {name: _check_positive_int(name, value)
                for name, value in (("n_filters", n_filters), ("depth", depth), ("batch_size", batch_size),
                                    ("steps", steps), ("warmup_steps", warmup_steps), ("n_classes", n_classes))}
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if jit_compile is not None and not isinstance(jit_compile, bool):
        raise ValueError(f"jit_compile must be True, False or None, got {jit_compile!r}")
    settings["image_size"] = _validated_image_size(image_size, settings["depth"])
    return {**settings, "precision": precision, "jit_compile": jit_compile}


def run_unet_benchmark(
    image_size=(64, 64),
    n_filters: int = 8,
    depth: int = 4,
    batch_size: int = 8,
    precision: str = "float32",
    steps: int = 20,
    warmup_steps: int = 3,
    jit_compile: bool | None = None,
    n_classes: int = 3,
    build_model=None,
) -> dict:
    """Time training steps and forward passes of the course U-Net on one fixed random batch.

    Args:
        image_size: ``(H, W)``, both multiples of ``2**depth``.
        n_filters: filters of the first level, doubled at each level down.
        depth: number of poolings.
        batch_size: images per step.
        precision: one of :data:`PRECISIONS`, the dtype policy of this model only.
        steps: timed training steps, and timed forward passes.
        warmup_steps: untimed steps of each kind first; the first one compiles the step.
        jit_compile: compile the training step with XLA (``torch.compile`` under PyTorch);
            ``None`` for on with a GPU under TensorFlow or JAX, off otherwise.
        n_classes: classes of the random labels, the model's output channels.
        build_model: builds the network, with the signature of :func:`unet_lib.model.unet_model` (a
            learner's own, in lesson 04); ``None`` for the library's reference.

    Returns:
        A JSON-serialisable dictionary: the settings, ``backend``, ``device``, ``parameters``,
        ``train_images_per_second`` and ``inference_images_per_second`` (all timed steps'
        images over their total time), ``train_step_ms`` and ``inference_step_ms`` (medians),
        ``train_gflop_per_image`` (from :func:`conv_flops_per_image`), ``achieved_tflops``
        (training operations per second), and ``gpu``, ``peak_tflops`` and ``fraction_of_peak``
        (None on a CPU or an unknown GPU; :func:`peak_tflops`).

    Raises:
        ValueError: if an argument is not a positive integer, ``precision`` is unknown, or the
            image size is not a multiple of ``2**depth``.
    """
    settings = validated_settings(image_size, n_filters, depth, batch_size, precision, steps, warmup_steps,
                                  jit_compile, n_classes)
    height, width = settings["image_size"]
    n_filters, depth, batch_size, steps, warmup_steps, n_classes = (
        settings[name] for name in ("n_filters", "depth", "batch_size", "steps", "warmup_steps", "n_classes"))

    from unet_lib._keras import keras
    from unet_lib.environment import list_gpus, set_seed
    from unet_lib.training import TrainingConfig, build_training_model, describe_device

    backend = keras.backend.backend()
    if jit_compile is None:
        # XLA pays off on a GPU and slows a CPU down; Keras itself leaves torch.compile off by default.
        jit_compile = bool(list_gpus()) and backend != "torch"
    config = TrainingConfig(
        image_size=(height, width), n_filters=n_filters, depth=depth, batch_norm=True, dropout_prob=0.0,
        batch_size=batch_size, mixed_precision=None if precision == "float32" else precision,
        jit_compile=jit_compile,
    )
    set_seed(0)
    model = build_training_model(config, warmup_steps + steps, n_classes, build_model)
    rng = np.random.default_rng(0)
    images = keras.ops.convert_to_tensor(rng.random((batch_size, height, width, 3), dtype=np.float32))
    labels = keras.ops.convert_to_tensor(rng.integers(0, n_classes, (batch_size, height, width), dtype=np.int32))

    def train_step() -> float:
        # float() waits for the step's result: the GPU has finished it when the clock stops.
        return float(model.train_on_batch(images, labels, return_dict=True)["loss"])

    def inference_step() -> np.ndarray:
        # The compiled predict function (a plain model(images) call would run eagerly under TensorFlow).
        return np.asarray(model.predict_on_batch(images))

    train_seconds = _time_steps(train_step, warmup_steps, steps)
    inference_seconds = _time_steps(inference_step, warmup_steps, steps)
    train_images_per_second = batch_size * steps / sum(train_seconds)
    train_flops_per_image = TRAINING_FLOPS_PER_FORWARD * conv_flops_per_image(model)
    report = {
        "backend": backend,
        "device": describe_device(),
        "precision": precision,
        # What the policy gave the first convolution (a learner's model names its layers as Keras does).
        "compute_dtype": next(layer for layer in model.layers
                              if isinstance(layer, keras.layers.Conv2D)).dtype_policy.compute_dtype,
        "jit_compile": jit_compile,
        "image_size": [height, width],
        "n_filters": n_filters,
        "depth": depth,
        "batch_size": batch_size,
        "n_classes": n_classes,
        "steps": steps,
        "warmup_steps": warmup_steps,
        "parameters": model.count_params(),
        "train_images_per_second": _significant(train_images_per_second),
        "inference_images_per_second": _significant(batch_size * steps / sum(inference_seconds)),
        "train_step_ms": _significant(1e3 * statistics.median(train_seconds)),
        "inference_step_ms": _significant(1e3 * statistics.median(inference_seconds)),
        "train_gflop_per_image": _significant(train_flops_per_image / 1e9),
        "achieved_tflops": _significant(train_flops_per_image * train_images_per_second / 1e12),
    }
    gpu_name = (list_gpus() or [None])[0]
    peak = peak_tflops(gpu_name, precision)
    report["gpu"] = gpu_name
    report["peak_tflops"] = peak
    report["fraction_of_peak"] = None if peak is None else _significant(report["achieved_tflops"] / peak, 3)
    if hasattr(os, "getloadavg"):
        # Other programs slow the steps down: say how busy the machine was.
        report["load_average"] = round(os.getloadavg()[0], 2)
    return report


def peak_tflops(gpu_name: str | None, precision: str) -> float | None:
    """The GPU's peak TFLOP/s for ``precision`` (:data:`GPU_PEAK_TFLOPS`), or None for an unknown GPU or a CPU.

    Float32 counts the CUDA cores' rate: TensorFlow and JAX may run float32 convolutions as TF32
    on the Tensor Cores, so a float32 fraction above 1 means they did.
    """
    if not gpu_name:
        return None
    for model, peaks in GPU_PEAK_TFLOPS.items():
        if model in gpu_name.upper():
            return peaks["float32" if precision == "float32" else "16-bit"]
    return None


def _significant(value: float, digits: int = 4) -> float:
    # Four significant digits whatever the scale: 0.000123 TFLOP/s on a CPU, 1234.5 images/s on a GPU.
    return float(f"{value:.{digits}g}")


def _time_steps(step, warmup_steps: int, steps: int) -> list[float]:
    """Run ``step`` ``warmup_steps`` times untimed, then ``steps`` times; return each timed run's seconds."""
    for _ in range(warmup_steps):
        step()
    seconds = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)
    return seconds


def add_benchmark(subparsers) -> None:
    """The ``bench unet`` sub-command."""
    parser = subparsers.add_parser(
        "unet",
        help="training and inference speed of the course U-Net, as one line of JSON",
        description="Times training steps and forward passes of the course U-Net (built as the train verb "
        "builds it) on one fixed random batch, after a warm-up, and prints one line of JSON: images per "
        "second, median step times, and the TFLOP/s achieved by its convolutions.",
    )
    parser.add_argument("--preset", choices=sorted(PRESETS), default="course",
                        help="model and batch settings: course (64x64, 8 filters, batch 8; the default), mooc "
                        "(96x128, 32 filters, batch 32, 23 classes), unet-medical (576x576, 64 filters, batch 8, "
                        "2 classes, 34.6M parameters); the options below override them")
    parser.add_argument("--image-size", type=int, nargs=2, default=None, metavar=("H", "W"),
                        help="image height and width, multiples of 2**depth")
    parser.add_argument("--n-filters", type=int, default=None, help="filters of the first level")
    parser.add_argument("--depth", type=int, default=None, help="number of poolings")
    parser.add_argument("--batch-size", type=int, default=None, help="images per step")
    parser.add_argument("--precision", choices=PRECISIONS, default="float32",
                        help="dtype policy of the model (default float32)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps of each kind (default 20)")
    parser.add_argument("--warmup-steps", type=int, default=3, help="untimed steps first (default 3)")
    parser.add_argument("--jit-compile", action=argparse.BooleanOptionalAction, default=None,
                        help="compile the training step with XLA (default: on with a GPU, except under torch)")
    parser.add_argument("--n-classes", type=int, default=None, help="classes of the labels")

    def run(arguments: argparse.Namespace) -> int:
        settings = dict(PRESETS[arguments.preset])
        for name in ("image_size", "n_filters", "depth", "batch_size", "n_classes"):
            if getattr(arguments, name) is not None:
                settings[name] = getattr(arguments, name)
        settings["image_size"] = tuple(settings["image_size"])
        settings.update(precision=arguments.precision, steps=arguments.steps, warmup_steps=arguments.warmup_steps,
                        jit_compile=arguments.jit_compile)
        try:
            validated_settings(**settings)
        except ValueError as error:
            parser.error(str(error))  # usage and message on stderr, exit code 2, as for any bad option
        print(json.dumps(run_unet_benchmark(**settings)))
        return 0

    parser.set_defaults(handler=run)
