"""The U-Net, its training and its mean-IoU metric run on more than one Keras backend.

Keras picks its backend once, when it is first imported, from ``KERAS_BACKEND``; so each backend
runs :func:`train_tiny_unet` in a Python process of its own. The TensorFlow and PyTorch runs must
both train (the loss falls), log a sensible metric, and give ``Conv2DTranspose`` outputs of the
same shapes, odd input sizes included. JAX is not in the dev extra and is not tested here.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

BACKENDS = ("tensorflow", "torch")

N_SCENES, EPOCHS, BATCH_SIZE = 64, 3, 16

ODD_INPUT = (1, 5, 7, 1)
"""``(N, H, W, C)`` fed to a lone stride-2, 3x3 ``Conv2DTranspose``: odd sides are where padding rules differ."""

RUN_IN_SUBPROCESS = "import json; from tests.test_backends import train_tiny_unet; print(json.dumps(train_tiny_unet()))"


def train_tiny_unet() -> dict:
    """Train a tiny U-Net a few steps on the current backend; report losses, metric and shapes.

    Runs in a fresh process whose ``KERAS_BACKEND`` is already set (see :func:`run_on_backend`).

    Returns:
        A JSON-serialisable dictionary: ``backend`` (Keras's own name for it), ``loss`` and
        ``mean_iou`` (one value per epoch), ``model_output`` (the shape of the logits for a
        ``(2, 16, 16, 3)`` batch), ``conv_transpose`` (layer name -> output shape for that batch)
        and ``odd_conv_transpose`` (padding -> output shape for :data:`ODD_INPUT`).
    """
    import numpy as np

    from unet_lib._keras import keras
    from unet_lib.data import make_shapes_dataset
    from unet_lib.environment import set_seed
    from unet_lib.metrics import mean_iou_metric
    from unet_lib.model import unet_model

    set_seed(0)
    images, masks = make_shapes_dataset(N_SCENES, (16, 16), seed=0)
    # No dropout: a dozen steps should show the loss falling, not the noise dropout adds to it.
    model = unet_model((16, 16, 3), n_filters=4, n_classes=3, depth=2, batch_norm=True, dropout_prob=0.0)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[mean_iou_metric(3)],
    )
    history = model.fit(images, masks, epochs=EPOCHS, batch_size=BATCH_SIZE, shuffle=False, verbose=0).history

    # Shapes computed by the backend on real data, not Keras's symbolic shape inference.
    transposes = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2DTranspose)]
    probe = keras.Model(model.input, [model.output] + [layer.output for layer in transposes])
    outputs = probe(np.zeros((2, 16, 16, 3), dtype=np.float32), training=False)
    shapes = [list(keras.ops.convert_to_numpy(output).shape) for output in outputs]
    odd = {}
    for padding in ("same", "valid"):
        layer = keras.layers.Conv2DTranspose(2, 3, strides=2, padding=padding)
        odd[padding] = list(keras.ops.convert_to_numpy(layer(np.zeros(ODD_INPUT, dtype=np.float32))).shape)
    return {
        "backend": keras.backend.backend(),
        "loss": [float(value) for value in history["loss"]],
        "mean_iou": [float(value) for value in history["mean_iou"]],
        "model_output": shapes[0],
        "conv_transpose": {layer.name: shape for layer, shape in zip(transposes, shapes[1:], strict=True)},
        "odd_conv_transpose": odd,
    }


def _require_backend(backend: str) -> None:
    """Skip when the backend's package is missing on a learner's machine; fail in CI, which must test it."""
    if importlib.util.find_spec(backend) is not None:
        return
    message = (f"The '{backend}' package is not installed, so the {backend} backend cannot be tested: "
               f".venv/bin/pip install -e '.[dev]' (it pins {backend}).")
    if os.environ.get("CI"):
        pytest.fail(message + " CI must run these tests, not skip them.")
    pytest.skip(message)


@functools.cache
def _run(backend: str) -> subprocess.CompletedProcess:
    # One run per backend for the whole session: the tests below read the same result.
    environment = {**os.environ, "KERAS_BACKEND": backend}
    return subprocess.run([sys.executable, "-c", RUN_IN_SUBPROCESS], cwd=REPO_ROOT, env=environment,
                          capture_output=True, text=True, timeout=600, check=False)


def run_on_backend(backend: str) -> tuple[dict, str]:
    """:func:`train_tiny_unet` under ``KERAS_BACKEND=backend``: its report and the process's stderr."""
    _require_backend(backend)
    completed = _run(backend)
    assert completed.returncode == 0, f"{backend} run failed:\n{completed.stderr[-3000:]}"
    return json.loads(completed.stdout.strip().splitlines()[-1]), completed.stderr


@pytest.mark.parametrize("backend", BACKENDS)
def test_tiny_unet_trains_on_backend(backend):
    report, _ = run_on_backend(backend)
    assert report["backend"] == backend
    losses = report["loss"]
    assert len(losses) == EPOCHS and all(math.isfinite(loss) for loss in losses), losses
    assert losses[-1] < losses[0], f"{backend}: loss did not fall over {EPOCHS} epochs: {losses}"
    assert all(0.0 <= value <= 1.0 for value in report["mean_iou"]), report["mean_iou"]
    assert report["model_output"] == [2, 16, 16, 3]


@pytest.mark.parametrize("backend", BACKENDS)
def test_run_prints_nothing_on_stderr(backend):
    # Under torch too: Keras imports TensorFlow there as well (to seed it), and its start-up lines must stay hidden.
    _, stderr = run_on_backend(backend)
    assert stderr == "", f"{backend}: lines leaked to stderr: {stderr[:800]}"


def test_conv_transpose_shapes_agree_across_backends():
    tensorflow, _ = run_on_backend("tensorflow")
    torch, _ = run_on_backend("torch")
    # Depth 2 on 16x16: the decoder upsamples 4x4 -> 8x8 with 8 filters, then 8x8 -> 16x16 with 4.
    assert tensorflow["conv_transpose"] == {"decoder1_upsample": [2, 8, 8, 8], "decoder2_upsample": [2, 16, 16, 4]}
    assert torch["conv_transpose"] == tensorflow["conv_transpose"]
    assert torch["model_output"] == tensorflow["model_output"]
    # Keras's rules for a 5x7 input, stride 2, kernel 3: "same" doubles, "valid" gives (i - 1) * 2 + 3.
    assert tensorflow["odd_conv_transpose"] == {"same": [1, 10, 14, 2], "valid": [1, 11, 15, 2]}
    assert torch["odd_conv_transpose"] == tensorflow["odd_conv_transpose"]
