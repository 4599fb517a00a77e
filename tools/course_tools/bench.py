"""The ``bench`` verb: ``python -m course_tools bench BENCHMARK``, timings side by side, printed, never asserted.

- ``bench transpose``: the NumPy transposed convolutions against TensorFlow's on U-Net decoder shapes.
- ``bench unet``: how fast the course U-Net trains and predicts on this machine. It is built and compiled as the
  ``train`` verb builds it (:func:`unet_lib.training.build_training_model`) and fed one fixed batch of random
  images, already on the device; each timed step ends by reading its result back, so asynchronous GPU work is
  finished inside the step it belongs to. One JSON line: images per second and, from a count of the
  convolutions' multiply-adds, the TFLOP/s achieved.
- ``bench predict``: time and peak memory of overlap-tile prediction as the image grows.
- ``bench grade``: the wall time of grading one solved whole-course submission.
- ``bench lessons``: each lesson's Run All time, its slowest cell and its longest wait without output.

Results are recorded in ``docs/BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from unet_lib._validate import check_positive_int as _check_positive_int

DECODER_SHAPES = "8x32x32x128:64,16x64x64x64:32"
"""U-Net decoder shapes from the course issue: batch x height x width x C_in : C_out."""

TARGET_RATIOS = {2: 1.0, 3: 1.5}
"""Kernel size -> the largest NumPy / TensorFlow time ratio the course aims for (stride 2)."""


def add_command(subparsers) -> None:
    """The ``bench`` verb, with one sub-command per registered benchmark."""
    parser = subparsers.add_parser(
        "bench", help="time the library's code against the framework's, and the course U-Net's training"
    )
    benchmarks = parser.add_subparsers(title="benchmarks", metavar="BENCHMARK")
    for add_benchmark in (_add_transpose_benchmark, _add_unet_benchmark, _add_predict_benchmark,
                          _add_grading_benchmark, _add_lessons_benchmark):
        add_benchmark(benchmarks)

    def print_help(arguments: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(handler=print_help)


@dataclasses.dataclass(frozen=True)
class Timing:
    """Median times of one function, in seconds: wall clock, and CPU time of this process (all threads)."""

    wall: float
    cpu: float


def time_side_by_side(functions: dict[str, Callable[[], object]], repeats: int = 7) -> dict[str, Timing]:
    """Median wall and CPU time of each function, called in turn so that load affects all alike.

    CPU time (user + system, summed over threads) is less sensitive than wall time to other
    programs competing for the cores; both are reported.

    Args:
        functions: name -> function of no arguments.
        repeats: timed calls of each function, >= 1, after one untimed warm-up call each.

    Returns:
        name -> :class:`Timing`.

    Raises:
        ValueError: if ``repeats`` < 1.
    """
    _check_positive_int("repeats", repeats)
    for function in functions.values():
        function()  # warm-up: first-call costs (allocation, kernel selection) are not what we measure
    wall: dict[str, list[float]] = {name: [] for name in functions}
    cpu: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            function()
            cpu[name].append(time.process_time() - start_cpu)
            wall[name].append(time.perf_counter() - start)
    return {name: Timing(statistics.median(wall[name]), statistics.median(cpu[name])) for name in functions}


def parse_shapes(text: str) -> list[tuple[int, int, int, int, int]]:
    """Parse ``"8x32x32x128:64,..."`` into ``(N, H, W, C_in, C_out)`` tuples.

    Raises:
        ValueError: if an item is not ``NxHxWxC_in:C_out`` with positive integers.
    """
    shapes = []
    for item in text.split(","):
        try:
            batch_part, c_out = item.strip().split(":")
            shape = tuple(int(size) for size in batch_part.split("x")) + (int(c_out),)
        except ValueError:
            shape = ()
        if len(shape) != 5 or min(shape) < 1:
            raise ValueError(f"shapes must look like NxHxWxC_in:C_out with positive integers, got {item!r}")
        shapes.append(shape)
    return shapes


def cpu_model() -> str:
    """The processor's name as the system reports it (``"AMD EPYC"``, ``"Intel(R) Xeon(R) ..."``)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass  # not Linux
    return platform.processor() or platform.machine()


def numpy_blas() -> str:
    """The BLAS NumPy was built with, and the kernel it picked for this CPU where it says (OpenBLAS)."""
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    description = f"{blas.get('name', 'unknown BLAS')} {blas.get('version', '')}".strip()
    libraries = Path(np.__file__).parent.parent / "numpy.libs"
    for library in sorted(libraries.glob("*openblas*.so*")):
        try:
            openblas = ctypes.CDLL(str(library))
        except OSError:
            continue
        for symbol in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename", "openblas_get_corename"):
            if hasattr(openblas, symbol):
                corename = getattr(openblas, symbol)
                corename.restype = ctypes.c_char_p
                return f"{description}, {corename().decode()} kernels"
    return description


def _machine() -> str:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return f"{cpu_model()}, {os.cpu_count()} CPU cores, NumPy BLAS {numpy_blas()}, load average {load}"


def _format_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = ["| " + " | ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)) + " |"
             for line in [header, *rows]]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def run_transpose_benchmark(
    shapes: list[tuple[int, int, int, int, int]],
    kernel_sizes: list[int],
    naive_shape: tuple[int, int, int, int, int],
    repeats: int = 7,
    stride: int = 2,
) -> tuple[str, bool]:
    """Time ``conv_transpose2d`` against ``tf.nn.conv2d_transpose``, and the loop version against both.

    Every case uses ``padding="same"`` (a U-Net decoder's upsampling) and float32 data, and checks
    that NumPy and TensorFlow agree before timing.

    Args:
        shapes: ``(N, H, W, C_in, C_out)`` decoder shapes.
        kernel_sizes: kernel sizes to try, each with ``stride``.
        naive_shape: a small shape on which the loop version is timed.
        repeats: timed calls per function (median reported).
        stride: the upsampling stride.

    Returns:
        The report (Markdown tables) and whether all results agreed with TensorFlow.
    """
    from unet_lib._quiet import configure_tensorflow_logging, native_stderr_silenced
    from unet_lib.reference.convolution import conv_transpose2d, conv_transpose2d_naive

    configure_tensorflow_logging()
    with native_stderr_silenced():  # TensorFlow's C++ start-up lines are not part of the report
        import tensorflow as tf

    rng = np.random.default_rng(0)
    rows, all_agree = [], True
    for n, height, width, c_in, c_out in shapes:
        x = rng.standard_normal((n, height, width, c_in), dtype=np.float32)
        for k in kernel_sizes:
            kernel = rng.standard_normal((k, k, c_out, c_in), dtype=np.float32) / float(np.sqrt(k * k * c_in))
            x_tf, kernel_tf = tf.constant(x), tf.constant(kernel)
            output_shape = (n, height * stride, width * stride, c_out)

            def with_numpy(x=x, kernel=kernel):
                return conv_transpose2d(x, kernel, stride, "same")

            def with_tensorflow(x_tf=x_tf, kernel_tf=kernel_tf, output_shape=output_shape):
                return tf.nn.conv2d_transpose(x_tf, kernel_tf, output_shape, stride, padding="SAME").numpy()

            difference = float(np.abs(with_numpy() - with_tensorflow()).max())
            agree = difference < 1e-4
            all_agree &= agree
            seconds = time_side_by_side({"numpy": with_numpy, "tensorflow": with_tensorflow}, repeats)
            ours, theirs = seconds["numpy"], seconds["tensorflow"]
            ratio = ours.wall / theirs.wall
            # The targets are set for the decoder shapes at stride 2; other shapes are informative only.
            decoder_shape = (n, height, width, c_in, c_out) in parse_shapes(DECODER_SHAPES) and stride == 2
            target = TARGET_RATIOS.get(k) if decoder_shape else None
            rows.append([
                f"{n}x{height}x{width}x{c_in} -> {c_out}", f"{k} / {stride}",
                f"{ours.wall * 1e3:.1f} / {ours.cpu * 1e3:.1f}", f"{theirs.wall * 1e3:.1f} / {theirs.cpu * 1e3:.1f}",
                f"{ratio:.2f}x / {ours.cpu / theirs.cpu:.2f}x",
                "-" if target is None else f"<= {target:.1f}x {'met' if ratio <= target else 'MISSED'}",
                f"{difference:.1e}" + ("" if agree else " DIFFERS"),
            ])
    table = _format_table(
        ["shape N x H x W x C_in -> C_out", "kernel / stride", "NumPy ms wall / CPU", "TensorFlow ms wall / CPU",
         "ratio wall / CPU", "target (wall)", "max abs diff"],
        rows,
    )

    n, height, width, c_in, c_out = naive_shape
    x = rng.standard_normal((n, height, width, c_in), dtype=np.float32)
    naive_rows = []
    for k in kernel_sizes:
        kernel = rng.standard_normal((k, k, c_out, c_in), dtype=np.float32)

        def loop(kernel=kernel):
            return conv_transpose2d_naive(x, kernel, stride, "same")

        def vectorised(kernel=kernel):
            return conv_transpose2d(x, kernel, stride, "same")

        try:
            agree = bool(np.allclose(loop(), vectorised(), atol=1e-4))
        except NotImplementedError:  # a student release has the loop version's body removed
            naive_rows.append([f"{n}x{height}x{width}x{c_in} -> {c_out}", f"{k} / {stride}", "-", "-",
                               "not written yet (student release)"])
            continue
        all_agree &= agree
        seconds = time_side_by_side({"loop": loop, "vectorised": vectorised}, max(1, repeats // 2))
        slow, fast = seconds["loop"].wall, seconds["vectorised"].wall
        naive_rows.append([
            f"{n}x{height}x{width}x{c_in} -> {c_out}", f"{k} / {stride}", f"{slow * 1e3:.1f}", f"{fast * 1e3:.2f}",
            f"{slow / fast:.0f}x slower" + ("" if agree else " (results DIFFER)"),
        ])
    naive_table = _format_table(
        ["shape N x H x W x C_in -> C_out", "kernel / stride", "loop ms (wall)", "vectorised ms (wall)",
         "loop version"],
        naive_rows,
    )
    report = (
        f"conv_transpose2d (NumPy {np.__version__}) vs tf.nn.conv2d_transpose (TensorFlow {tf.__version__}), "
        f"float32, padding='same', median of {repeats} interleaved runs after a warm-up; "
        "CPU = user + system time of all threads\n"
        f"machine: {_machine()}\n\n{table}\n\nThe loop version, conv_transpose2d_naive:\n\n{naive_table}"
    )
    return report, all_agree


def _add_transpose_benchmark(subparsers) -> None:
    """The ``bench transpose`` sub-command."""
    parser = subparsers.add_parser(
        "transpose",
        help="conv_transpose2d (NumPy) vs tf.nn.conv2d_transpose on U-Net decoder shapes",
        description="Times unet_lib's vectorised transposed convolution against TensorFlow's, side by side, "
        "and the loop version against the vectorised one. Exit code 1 if any result differs.",
    )
    parser.add_argument("--shapes", default=DECODER_SHAPES,
                        help=f"comma-separated NxHxWxC_in:C_out (default {DECODER_SHAPES})")
    parser.add_argument("--kernels", default="2,3", help="comma-separated kernel sizes (default 2,3)")
    parser.add_argument("--stride", type=int, default=2, help="stride (default 2)")
    parser.add_argument("--naive-shape", default="4x32x32x32:16",
                        help="small NxHxWxC_in:C_out shape for the loop version (default 4x32x32x32:16)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per function (default 7)")
    parser.set_defaults(handler=_run_transpose)


def _run_transpose(arguments: argparse.Namespace) -> int:
    try:
        kernel_sizes = [int(k) for k in arguments.kernels.split(",")]
        if min(kernel_sizes) < 1:
            raise ValueError
    except ValueError:
        raise SystemExit(f"--kernels must be comma-separated integers >= 1, got {arguments.kernels!r}") from None
    try:
        shapes = parse_shapes(arguments.shapes)
        (naive_shape,) = parse_shapes(arguments.naive_shape)
        report, all_agree = run_transpose_benchmark(
            shapes, kernel_sizes, naive_shape, repeats=arguments.repeats, stride=arguments.stride
        )
    except ValueError as error:
        raise SystemExit(str(error)) from None
    print(report)
    return 0 if all_agree else 1


# ``bench unet``

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
            top level (as :func:`unet_lib.reference.model.unet_model` is).

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
        build_model: builds the network, with the signature of :func:`unet_lib.reference.model.unet_model` (a
            learner's own, in lesson 04 or later); ``None`` for the library's reference.

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


def _add_unet_benchmark(subparsers) -> None:
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


# ``bench predict``

MEASURE = """
import json, resource, sys, time
import numpy as np
from unet_lib.environment import set_seed
from unet_lib.inference import predict_image
from unet_lib.reference.model import unet_model

side, tile_size, overlap = (int(value) for value in sys.argv[1:4])
set_seed(0)
model = unet_model((None, None, 3), n_filters=8, n_classes=3, depth=4, batch_norm=True, dropout_prob=0.0)
predict_image(model, np.zeros((tile_size, tile_size, 3), np.float32), tile_size=tile_size, overlap=overlap)
image = np.random.default_rng(0).random((side, side, 3), dtype=np.float32)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
labels = predict_image(model, image, tile_size=tile_size, overlap=overlap)
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"side": side, "seconds": seconds, "peak_growth_mb": (peak - before) / 1024, "shape": labels.shape}))
"""
"""One measurement of ``bench predict``, in a fresh process so that its peak memory is its own."""


def _add_predict_benchmark(subparsers) -> None:
    """``bench predict``: time and peak memory of overlap-tile prediction as the image grows."""
    parser = subparsers.add_parser("predict", help="time and peak memory of predict_image on growing square "
                                   "images (the lesson's U-Net, tiled), per million pixels, as JSON lines")
    parser.add_argument("--sides", type=int, nargs="+", default=[512, 1024, 2048], help="image sides in pixels")
    parser.add_argument("--tile-size", type=int, default=256)
    parser.add_argument("--overlap", type=int, default=32)

    def run(arguments) -> int:
        for side in arguments.sides:
            completed = subprocess.run([sys.executable, "-c", MEASURE, str(side), str(arguments.tile_size),
                                        str(arguments.overlap)], capture_output=True, text=True, check=False)
            if completed.returncode != 0:
                print(f"bench predict: side {side} failed: {completed.stderr.strip().splitlines()[-1:]}",
                      file=sys.stderr)
                return 1
            row = json.loads(completed.stdout.splitlines()[-1])
            megapixels = side * side / 1e6
            row.update(seconds_per_megapixel=round(row["seconds"] / megapixels, 3),
                       peak_growth_mb_per_megapixel=round(row["peak_growth_mb"] / megapixels, 1),
                       seconds=round(row["seconds"], 2), peak_growth_mb=round(row["peak_growth_mb"], 1))
            print(json.dumps({"benchmark": "predict", "tile_size": arguments.tile_size,
                              "overlap": arguments.overlap, **row}))
        return 0

    parser.set_defaults(handler=run)


# ``bench grade``

def bench_grading(out_dir: str | Path, lessons_dir: str | Path | None = None, limits=None,
                  workers: int = 2) -> dict:
    """Grade one whole-course submission (every lesson, solved) as ``grade`` does, and time it.

    The course is built first (``release --nbgrader``: the graded cases recorded), untimed: an instructor does
    that once per course version.

    Args:
        out_dir: a folder to work in (the course, the submission and ``grades.csv`` go there).
        lessons_dir: the solved lessons; default the repository's.
        limits, workers: as for :func:`grade`.

    Returns:
        A JSON-serialisable dictionary: ``workers``, ``seconds`` (the wall time of :func:`grade`), ``points`` and
        ``max_points`` summed over the lessons, ``lessons``, ``statuses``, ``cells_with_errors`` (lesson: the
        indices of the cells that raised under grading; empty when every cell ran), ``cpu`` (the CPU model) and
        ``cores``.
    """
    from course_tools.exercises import default_package_dir
    from course_tools.grade import Limits, grade
    from course_tools.release import build_nbgrader_course

    out_dir = Path(out_dir).resolve()
    lessons_dir = Path(lessons_dir or default_package_dir().parent / "lessons")
    manifest = build_nbgrader_course(out_dir / "course", lessons_dir)
    student = out_dir / "submissions" / "solved"
    student.mkdir(parents=True, exist_ok=True)
    for entry in manifest["nbgrader_assignments"].values():
        shutil.copyfile(lessons_dir / entry["notebook"], student / entry["notebook"])
    started = time.perf_counter()
    grades = grade(out_dir / "course", out_dir / "submissions", out_dir / "grades.csv", limits or Limits(), workers)
    seconds = time.perf_counter() - started
    # Points come from the graded calls only: a lesson that breaks elsewhere under grading shows here.
    failed_cells = {}
    for notebook in sorted((out_dir / "course" / "autograded" / "solved").glob("*/*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        failed = [index for index, cell in enumerate(cells) if any(
            output.get("output_type") == "error" for output in cell.get("outputs", []))]
        if failed:
            failed_cells[notebook.stem] = failed
    return {"benchmark": "grade", "workers": workers, "seconds": round(seconds, 1),
            "points": sum(row.points for row in grades), "max_points": sum(row.max_points for row in grades),
            "lessons": len(grades), "statuses": sorted({row.status for row in grades}),
            "cells_with_errors": failed_cells, "cpu": cpu_model(), "cores": len(os.sched_getaffinity(0))}


def _add_grading_benchmark(subparsers) -> None:
    """``bench grade``: the wall time of grading one whole-course submission, printed as one JSON line."""
    parser = subparsers.add_parser("grade", help="grade one solved whole-course submission as `grade` does and "
                                   "print its wall time (the target: 60 s on 2 cores) as JSON")
    parser.add_argument("--out", default=None, help="folder to work in (default: a temporary one)")
    parser.add_argument("--workers", type=int, default=2, help="notebooks graded at once (default: 2)")

    def run(arguments: argparse.Namespace) -> int:
        try:
            if arguments.out:
                print(json.dumps(bench_grading(arguments.out, workers=arguments.workers)))
            else:
                with tempfile.TemporaryDirectory(prefix="unet-bench-grade-") as folder:
                    print(json.dumps(bench_grading(folder, workers=arguments.workers)))
        except ValueError as error:
            print(f"bench grade: {error}", file=sys.stderr)
            return 2
        return 0

    parser.set_defaults(handler=run)


LESSON_TARGET_S = 120
"""The most a lesson's Run All may take on 2 CPU cores (issue #25)."""


def time_lesson(notebook_path: Path, timeout_s: int = 600) -> dict:
    """Run one lesson top to bottom in a fresh kernel, as Run All does; time it.

    Returns:
        ``{"lesson", "seconds", "slowest_cell_s", "slowest_cell", "longest_silence_s", "words", "errors"}``: the
        wall time of the whole run, of its slowest cell (and that cell's index), the longest wait inside one cell
        with nothing new on the page (from the cell's start, between its outputs, to its end), the markdown's word
        count and the indexes of cells that ended in an error.
    """
    import re

    import nbformat
    from nbclient import NotebookClient

    class TimedClient(NotebookClient):
        def output(self, outs, msg, display_id, cell_index):
            stamps.setdefault(cell_index, []).append(time.perf_counter())
            return super().output(outs, msg, display_id, cell_index)

    notebook = nbformat.read(notebook_path, as_version=4)
    stamps: dict[int, list[float]] = {}
    spans: dict[int, tuple[float, float]] = {}
    client = TimedClient(notebook, timeout=timeout_s, kernel_name="python3", allow_errors=True,
                         resources={"metadata": {"path": str(notebook_path.parent)}})
    client.on_cell_execute = lambda cell, cell_index: spans.__setitem__(cell_index, (time.perf_counter(), 0.0))
    client.on_cell_executed = lambda cell, cell_index, execute_reply: spans.__setitem__(
        cell_index, (spans[cell_index][0], time.perf_counter()))
    started = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - started
    durations = {index: end - start for index, (start, end) in spans.items()}
    silences = [max(b - a for a, b in zip([start, *stamps.get(index, [])], [*stamps.get(index, []), end], strict=True))
                for index, (start, end) in spans.items()]
    slowest = max(durations, key=durations.get, default=0)
    words = sum(len(re.findall(r"\w+", cell.source)) for cell in notebook.cells if cell.cell_type == "markdown")
    errors = [index for index, cell in enumerate(notebook.cells)
              if any(output.get("output_type") == "error" for output in cell.get("outputs", []))]
    return {"lesson": notebook_path.stem, "seconds": round(seconds, 1),
            "slowest_cell_s": round(durations.get(slowest, 0.0), 1), "slowest_cell": slowest,
            "longest_silence_s": round(max(silences, default=0.0), 1), "words": words, "errors": errors}


def _add_lessons_benchmark(subparsers) -> None:
    """``bench lessons``: every lesson run top to bottom, one at a time, in a scratch copy; a table of times."""
    parser = subparsers.add_parser("lessons", help="run each lesson top to bottom as Run All does (in a scratch "
                                   f"copy) and print its wall time (the target: {LESSON_TARGET_S} s on 2 cores), "
                                   "slowest cell and longest wait without output")
    parser.add_argument("names", nargs="*", help="lessons to time, e.g. 03_skip_connections (default: all)")
    parser.add_argument("--lessons", default=None, help="lessons folder (default: lessons/ of the repository)")

    def run(arguments: argparse.Namespace) -> int:
        from unet_lib.course import list_lessons

        lessons_dir = Path(arguments.lessons or Path(__file__).resolve().parents[2] / "lessons")
        rows = []
        with tempfile.TemporaryDirectory(prefix="unet-bench-lessons-") as folder:
            # A scratch copy, media beside it, so that what the lessons save (my_unet.py) never touches the source.
            shutil.copytree(lessons_dir, Path(folder) / "lessons", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
            if (lessons_dir.parent / "media").is_dir():
                shutil.copytree(lessons_dir.parent / "media", Path(folder) / "media")
            for lesson in list_lessons(Path(folder) / "lessons"):
                stem = lesson.file_name.removesuffix(".ipynb")
                if arguments.names and stem not in arguments.names:
                    continue
                timing = time_lesson(Path(folder) / "lessons" / lesson.file_name)
                rows.append([stem, f"{timing['seconds']:.1f}", f"{timing['slowest_cell_s']:.1f}",
                             f"{timing['longest_silence_s']:.1f}", str(timing["words"]),
                             "yes" if timing["seconds"] <= LESSON_TARGET_S and not timing["errors"] else
                             f"no{' (errors in cells ' + str(timing['errors']) + ')' if timing['errors'] else ''}"])
        print(f"Machine: {_machine()}")
        print(_format_table(["lesson", "Run All s", "slowest cell s", "longest wait without output s", "words",
                             f"within the {LESSON_TARGET_S} s target"], rows))
        return 0

    parser.set_defaults(handler=run)
