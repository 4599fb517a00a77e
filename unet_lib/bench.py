"""The ``bench`` verb: ``python -m unet_lib bench BENCHMARK``, timings side by side with ratios.

Benchmarks form a small registry: every module named in ``BENCHMARK_MODULES`` defines
``add_benchmark(subparsers)``, which adds its own sub-command and sets ``handler`` (a function
taking the parsed arguments and returning an exit code), just as :mod:`unet_lib.cli` does for verbs.
This module contributes ``bench transpose``; :mod:`unet_lib.bench_unet` contributes ``bench unet``;
:mod:`unet_lib.inference` ``bench predict``; :mod:`unet_lib.classroom.grade` ``bench grade``.
Results are recorded in ``docs/BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import importlib
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

BENCHMARK_MODULES = ("unet_lib.bench", "unet_lib.bench_unet", "unet_lib.inference", "unet_lib.classroom.grade")
"""Modules that contribute ``bench`` sub-commands, in the order ``bench --help`` lists them."""

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
    for module_name in BENCHMARK_MODULES:
        importlib.import_module(module_name).add_benchmark(benchmarks)

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
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be an integer >= 1, got {repeats!r}")
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
    from unet_lib.convolution import conv_transpose2d, conv_transpose2d_naive

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


def add_benchmark(subparsers) -> None:
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
