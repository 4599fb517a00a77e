"""The GPU configuration's settings, proven on a CPU: mixed float16 and XLA, under TensorFlow and JAX.

``GPU_CONFIG`` trains with ``mixed_float16`` and ``jit_compile=True``. No GPU is needed to check
that those settings train: the same structure (depth, batch norm, loss, schedule) at a tiny size
trains a few steps on the CPU with exactly those settings. Each backend runs in its own process
(Keras picks the backend, and the dtype policy is global). What only a GPU can show (speed, the
float16 Tensor Core kernels, memory) is listed in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT
from tests.test_backends import _require_backend

pytestmark = pytest.mark.extended

GPU_BACKENDS = ("tensorflow", "jax")

FLOAT16_TOLERANCE = 0.02
"""Logit difference allowed between the mixed-precision model and a float32 copy of its weights,
relative to the largest logit: float16 keeps about 3 significant digits through 20 layers."""

RUN_IN_SUBPROCESS = ("import json; from tests.test_gpu_settings import train_with_gpu_settings as run; "
                     "print(json.dumps(run()))")


def tiny_gpu_config():
    """``GPU_CONFIG`` at a size a CPU trains in seconds; every other field as on the GPU."""
    from unet_lib.training import GPU_CONFIG

    return dataclasses.replace(GPU_CONFIG, image_size=(32, 32), n_filters=4, n_train=96, n_held_out=16, epochs=3,
                               batch_size=8)


def train_with_gpu_settings() -> dict:
    """Train :func:`tiny_gpu_config` on the current backend; report what the settings did.

    Returns:
        A JSON-serialisable dictionary: the config's ``mixed_precision`` and ``jit_compile``, the
        model's resolved ``jit_compile``, ``loss`` per epoch, the compute and variable dtypes of the
        first convolution, the dtype of the logits, whether the optimizer scales the loss and its
        last scale, the dtype policy of a reloaded model's first convolution and how far its
        logits are from the trained model's, and the largest logit difference to a float32 model
        with the same weights (relative to the largest logit) with the share of pixels whose
        predicted class agrees.
    """
    import tempfile
    from pathlib import Path

    import numpy as np

    from unet_lib import keras
    from unet_lib.data import make_shapes_dataset
    from unet_lib.training import build_training_model, train_unet

    config = tiny_gpu_config()
    run = train_unet(config, verbose=0)
    model = run.model
    images = make_shapes_dataset(16, config.image_size, seed=99)[0]
    logits = keras.ops.convert_to_numpy(model(images, training=False))

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mixed.keras"
        model.save(path)
        # For prediction: compiling on load would rebuild the optimizer without its loss scaling
        # (the policy in force when loading is float32) and warn that its variables do not match.
        reloaded = keras.models.load_model(path, compile=False)
        reloaded_logits = keras.ops.convert_to_numpy(reloaded(images, training=False))

    float32_model = build_training_model(dataclasses.replace(config, mixed_precision=None, jit_compile=False), steps=1)
    float32_model.set_weights(model.get_weights())
    float32_logits = keras.ops.convert_to_numpy(float32_model(images, training=False))

    optimizer = model.optimizer
    scales_loss = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    def first_conv(network):
        return next(layer for layer in network.layers if isinstance(layer, keras.layers.Conv2D))

    return {
        "backend": keras.backend.backend(),
        "mixed_precision": config.mixed_precision,
        "config_jit_compile": config.jit_compile,
        "model_jit_compile": bool(model.jit_compile),
        "loss": [float(value) for value in run.history["loss"]],
        "conv_compute_dtype": first_conv(model).compute_dtype,
        "conv_variable_dtype": first_conv(model).variable_dtype,
        "logits_dtype": str(logits.dtype),
        "float32_float16_gap": float(np.abs(logits - float32_logits).max() / np.abs(float32_logits).max()),
        "same_class_share": float((logits.argmax(-1) == float32_logits.argmax(-1)).mean()),
        "scales_loss": scales_loss,
        "loss_scale": float(keras.ops.convert_to_numpy(optimizer.scale_loss(1.0))) if scales_loss else None,
        "reloaded_conv_policy": first_conv(reloaded).dtype_policy.name,
        "reloaded_gap": float(np.abs(reloaded_logits - logits).max()),
    }


def run_with_gpu_settings(backend: str) -> tuple[dict, str]:
    """:func:`train_with_gpu_settings` under ``KERAS_BACKEND=backend``: its report and the process's stderr."""
    _require_backend(backend)
    completed = subprocess.run([sys.executable, "-c", RUN_IN_SUBPROCESS], cwd=REPO_ROOT,
                               env={**os.environ, "KERAS_BACKEND": backend}, capture_output=True, text=True,
                               timeout=600, check=False)
    assert completed.returncode == 0, f"{backend} failed (exit {completed.returncode}):\n{completed.stderr[-3000:]}"
    return json.loads(completed.stdout.strip().splitlines()[-1]), completed.stderr


@pytest.mark.parametrize("backend", GPU_BACKENDS)
def test_gpu_settings_train_on_a_cpu(backend):
    report, stderr = run_with_gpu_settings(backend)
    assert report["backend"] == backend
    assert report["mixed_precision"] == "mixed_float16" and report["config_jit_compile"]
    assert report["model_jit_compile"], "Keras turned XLA off for this model"
    losses = report["loss"]
    assert all(math.isfinite(loss) for loss in losses) and losses[-1] < losses[0], losses
    # float16 maths, float32 weights, float32 logits (the last layer's policy).
    assert (report["conv_compute_dtype"], report["conv_variable_dtype"]) == ("float16", "float32")
    assert report["logits_dtype"] == "float32"
    # float16 gradients underflow without loss scaling, on every backend: Keras wraps the optimizer.
    assert report["scales_loss"] and report["loss_scale"] > 1 and math.isfinite(report["loss_scale"])
    assert report["reloaded_conv_policy"] == "mixed_float16" and report["reloaded_gap"] == 0.0
    assert report["float32_float16_gap"] < FLOAT16_TOLERANCE, report["float32_float16_gap"]
    assert report["same_class_share"] > 0.99, report["same_class_share"]
    assert stderr == "", f"{backend}: lines leaked to stderr: {stderr[:800]}"
