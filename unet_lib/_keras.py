"""The one place the library imports Keras, and checks the backend it runs on.

Under the TensorFlow backend TensorFlow is loaded quietly first; under JAX and PyTorch it is never
loaded. Modules that need Keras write ``from unet_lib._keras import keras``.
"""

import os
import sys

from unet_lib._quiet import import_tensorflow_quietly, native_stderr_silenced, selected_backend

if selected_backend() == "tensorflow":
    import_tensorflow_quietly()

import keras  # noqa: E402

TORCH_NEEDS_KERAS = "3.15.0"
"""Oldest Keras whose torch backend computes ``Conv2DTranspose(padding="same", strides > 1)`` right."""


def check_backend_supported(backend: str, keras_version: str) -> None:
    """Refuse a backend on which this Keras computes the course's layers wrongly.

    Keras before 3.15.0 shifts the output of a strided ``Conv2DTranspose(padding="same")`` by one
    pixel under torch (measured: 44 of 96 settings differ from the NumPy reference, for 3.12.4,
    3.13.2 and 3.14.1; none for 3.15.0; docs/BENCHMARKS.md). Every U-Net decoder here is such a
    layer. Keras 3.15 needs Python 3.11 or newer, so on Python 3.10 torch is not offered.

    Raises:
        RuntimeError: for the torch backend with Keras older than :data:`TORCH_NEEDS_KERAS`.
    """
    from packaging.version import Version

    if backend == "torch" and Version(keras_version) < Version(TORCH_NEEDS_KERAS):
        raise RuntimeError(
            f"KERAS_BACKEND=torch needs Keras >= {TORCH_NEEDS_KERAS}, but Keras {keras_version} is installed: its "
            "torch backend shifts Conv2DTranspose(padding='same', strides>1) outputs by one pixel, which breaks "
            "every U-Net of this course. Keras 3.15 needs Python 3.11 or newer; on Python 3.10 use "
            "KERAS_BACKEND=tensorflow (the default) or KERAS_BACKEND=jax."
        )


def _tensorflow_left_unloaded_under_other_backends() -> None:
    """Keep Keras from importing TensorFlow when another backend runs the course.

    Under JAX or PyTorch, Keras still imports TensorFlow whenever it is installed: to seed it in
    ``keras.utils.set_random_seed`` and to look for its types while saving a model. PyPI's torch
    and TensorFlow 2.21 crash one process that loads both (a segmentation fault on Python 3.10
    and 3.13), and TensorFlow's start-up costs seconds and prints C++ log lines. Keras asks one
    lazy module whether TensorFlow is ``available``; answering no makes it skip those optional
    uses, while code that really uses ``tf.data`` under another backend still imports it.
    """
    if keras.backend.backend() == "tensorflow" or "tensorflow" in sys.modules:
        return
    from keras.src.utils import module_utils

    module_utils.tensorflow._available = False


def _one_inter_op_thread_on_a_cpu() -> None:
    """Let TensorFlow run independent ops one after the other on a machine without a GPU.

    Each op still uses every core (intra-op threads); running independent ops side by side on top
    of that oversubscribes a small CPU. With one inter-op thread the course's U-Net trains about 40%
    faster on 2 cores (docs/BENCHMARKS.md). ``TF_NUM_INTEROP_THREADS``, when set, wins; so does a
    TensorFlow runtime already started before this import.
    """
    if keras.backend.backend() != "tensorflow" or "TF_NUM_INTEROP_THREADS" in os.environ:
        return
    import tensorflow as tf

    with native_stderr_silenced():  # looking for GPUs logs CUDA driver lines on a CPU-only machine
        has_gpu = bool(tf.config.list_physical_devices("GPU"))
    if not has_gpu:
        try:
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass  # the runtime is already initialised: its thread pools are fixed


def _eager_under_a_grader() -> None:
    """Under a grader, run TensorFlow's training steps eagerly: a token run (a few steps) does not repay tracing.

    Tracing a U-Net's train step takes about 9 s of a 12 s token fit on 2 cores; the lessons then need no
    ``run_eagerly`` argument that only a grader cares about.
    """
    if keras.backend.backend() != "tensorflow" or not os.environ.get("NBGRADER_EXECUTION"):
        return
    import warnings

    import tensorflow as tf

    tf.config.run_functions_eagerly(True)
    # It warns, on every dataset, that tf.data functions stay traced: true, and nothing a grader's reader needs.
    warnings.filterwarnings("ignore", message="Even though the `tf.config.experimental_run_functions_eagerly`")


check_backend_supported(keras.backend.backend(), keras.__version__)
_tensorflow_left_unloaded_under_other_backends()
_one_inter_op_thread_on_a_cpu()
_eager_under_a_grader()

__all__ = ["keras"]
