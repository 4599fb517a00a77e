"""What the course runs on: package versions, Keras backend, GPUs, and seeding."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import numbers
import os
import platform
import sys

from packaging.requirements import Requirement

DISTRIBUTION = "unet-course"
"""The name under which ``pyproject.toml`` installs this package (and records its pins)."""

GPU_ADVICE = """No GPU is visible to Keras. Every lesson runs on a CPU with its small default settings.
To train bigger models faster:
  * Linux with an NVIDIA GPU: .venv/bin/pip install "tensorflow[and-cuda]==2.21.0",
    then restart the kernel.
  * Or switch backend: install jax[cuda12] or torch with CUDA and set KERAS_BACKEND=jax or torch
    before starting JupyterLab (see README, "Switching Keras backend").
  * Or use a hosted notebook with a GPU (Colab, Kaggle) and `pip install -e .` there."""


def grading_run() -> bool:
    """Whether this notebook runs to be graded: a grader sets ``NBGRADER_EXECUTION`` (the variable's usual name).

    Lessons then train a token run (:func:`unet_lib.training.within_grading_budget`) and skip quality asserts:
    grading needs the exercises to run, not a trained model, and a course must grade in about a minute.
    """
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def training_size(full: int, *, when_graded: int) -> int:
    """How much a lesson trains: ``full`` (scenes, epochs, steps), or a token of it when a grader runs the notebook.

    A grader needs the exercises to run, not a trained model, and a class must grade in about a minute; so a
    lesson names its size once, with the token beside it, instead of branching on grading in its cells.

    Args:
        full: the size the lesson teaches with.
        when_graded: the size under a grader (:func:`grading_run`); never more than ``full``.

    Raises:
        ValueError: if ``when_graded`` is not a positive integer.

    Example:
        >>> training_size(1000, when_graded=16)  # not under a grader
        1000
    """
    if isinstance(when_graded, bool) or not isinstance(when_graded, numbers.Integral) or when_graded < 1:
        raise ValueError(f"when_graded must be a positive integer, got {when_graded!r}")
    return min(full, when_graded) if grading_run() else full


@contextlib.contextmanager
def trained_model_claims():
    """A block of asserts about how well a model trained, checked in every run but a grader's token run.

    Under a grader (:func:`grading_run`) the lessons train a token of their size (:func:`training_size`),
    which learns nothing, so a failed assert in this block is let through there; every other error, and every
    assert in a learner's own run, stops the cell as usual. Points never depend on these claims.
    """
    try:
        yield
    except AssertionError:
        if not grading_run():
            raise


def check_seed(seed) -> None:
    """Refuse anything but a non-negative integer (Python's or NumPy's) as a random seed.

    Raises:
        ValueError: if ``seed`` is not a non-negative integer (``True`` and ``1.0`` are not).
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def set_seed(seed: int = 0) -> int:
    """Seed Python's, NumPy's and the Keras backend's random generators, for reproducible lessons.

    Args:
        seed: a non-negative integer.

    Returns:
        The seed, so a lesson can print what it used.

    Raises:
        ValueError: if ``seed`` is not a non-negative integer.
    """
    check_seed(seed)
    from unet_lib._keras import keras

    keras.utils.set_random_seed(int(seed))
    return seed


@dataclasses.dataclass(frozen=True)
class PackageVersion:
    """One pinned dependency: what ``pyproject.toml`` asks for and what is installed."""

    name: str
    required: str
    installed: str | None

    @property
    def ok(self) -> bool:
        """Whether the installed version satisfies the requirement."""
        if self.installed is None:
            return False
        return Requirement(f"{self.name}{self.required}").specifier.contains(self.installed, prereleases=True)


def check_versions() -> list[PackageVersion]:
    """Compare every runtime dependency pinned in ``pyproject.toml`` with what is installed.

    Pins come from the installed package's metadata, so they cannot drift from ``pyproject.toml``; those whose
    marker does not apply here (another Python version, the ``dev`` extra) are left out.

    Raises:
        RuntimeError: if the course package itself is not installed (run ``make lab``).
    """
    try:
        requirements = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError(
            f"The course package '{DISTRIBUTION}' is not installed in this Python ({sys.executable}). "
            "Run `make lab` from the repository root, or `pip install -e .` in your environment."
        ) from None
    versions = []
    for line in requirements:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        try:
            installed = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        versions.append(PackageVersion(requirement.name, str(requirement.specifier), installed))
    return versions


def list_gpus() -> list[str]:
    """Product names of the GPUs the current Keras backend can use (``["NVIDIA H200"]``; empty on a CPU)."""
    from unet_lib._keras import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return [tf.config.experimental.get_device_details(device).get("device_name", device.name)
                for device in tf.config.list_physical_devices("GPU")]
    if backend == "jax":
        import jax

        return [device.device_kind for device in jax.devices() if device.platform == "gpu"]
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []


def describe_environment() -> dict[str, object]:
    """Python, Keras and backend versions, and the visible GPUs, as a dictionary."""
    from unet_lib._keras import keras

    backend = keras.backend.backend()
    try:
        backend_version = importlib.metadata.version(backend)
    except importlib.metadata.PackageNotFoundError:
        backend_version = "unknown"
    return {
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "keras": keras.__version__,
        "backend": backend,
        "backend_version": backend_version,
        "gpus": list_gpus(),
    }
