"""The U-Net, its training and its mean-IoU metric run on every Keras backend the course names.

Keras picks its backend once, when it is first imported, from ``KERAS_BACKEND``; so each backend
runs :func:`train_tiny_unet` in a Python process of its own. Every run must train (the loss falls),
log a sensible metric, give ``Conv2DTranspose`` outputs of the same shapes (odd input sizes
included), print nothing on stderr and, under JAX and torch, never load TensorFlow (PyPI's torch
and TensorFlow crash a process that loads both). A model saved under one backend must load and
predict the same under the others.

TensorFlow and JAX are in ``make test``'s extras; torch is tested wherever it is installed
(``make test EXTRAS=dev,jax,torch``, as CI runs it).
"""

from __future__ import annotations

import atexit
import functools
import importlib.metadata
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.extended

BACKENDS = ("tensorflow", "jax", "torch")
REQUIRED_IN_CI = ("tensorflow", "jax")
"""Backends CI must test rather than skip; torch is optional (a multi-GB download on most Pythons)."""

PREDICTION_TOLERANCE = 1e-4
"""Relative and absolute logit difference allowed between backends running one saved model (float32 kernels differ)."""

N_SCENES, EPOCHS, BATCH_SIZE = 64, 3, 16

ODD_INPUT = (1, 5, 7, 1)
"""``(N, H, W, C)`` fed to a lone stride-2, 3x3 ``Conv2DTranspose``: odd sides are where padding rules differ."""

RUN_IN_SUBPROCESS = ("import json, sys; from tests.test_backends import {function}; "
                     "print(json.dumps({function}(*sys.argv[1:])))")


def probe_images():
    """The fixed ``(2, 16, 16, 3)`` batch every backend predicts on, to compare saved models."""
    import numpy as np

    return np.random.default_rng(7).random((2, 16, 16, 3), dtype=np.float32)


def train_tiny_unet(save_dir: str) -> dict:
    """Train a tiny U-Net a few steps on the current backend; report losses, metric and shapes; save it.

    Runs in a fresh process whose ``KERAS_BACKEND`` is already set (see :func:`run_on_backend`).

    Args:
        save_dir: folder in which the trained model is saved as ``<backend>.keras``.

    Returns:
        A JSON-serialisable dictionary: ``backend`` (Keras's own name for it), ``loss`` and
        ``mean_iou`` (one value per epoch), ``model_output`` (the shape of the logits for a
        ``(2, 16, 16, 3)`` batch), ``conv_transpose`` (layer name -> output shape for that batch)
        ``odd_conv_transpose`` (padding -> output shape for :data:`ODD_INPUT`), ``logits``
        (the saved model's logits on :func:`probe_images`, nested lists) and ``tensorflow_loaded``
        (whether the process imported TensorFlow).
    """
    from pathlib import Path

    import numpy as np

    from unet_lib import keras
    from unet_lib.data import make_shapes_dataset
    from unet_lib.environment import set_seed
    from unet_lib.metrics import mean_iou_metric
    from unet_lib.reference.model import unet_model

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
    model.save(Path(save_dir) / f"{keras.backend.backend()}.keras")
    logits = keras.ops.convert_to_numpy(model(probe_images(), training=False))
    return {
        "backend": keras.backend.backend(),
        "logits": logits.tolist(),
        "tensorflow_loaded": "tensorflow" in sys.modules,
        "loss": [float(value) for value in history["loss"]],
        "mean_iou": [float(value) for value in history["mean_iou"]],
        "model_output": shapes[0],
        "conv_transpose": {layer.name: shape for layer, shape in zip(transposes, shapes[1:], strict=True)},
        "odd_conv_transpose": odd,
    }


def predict_with_saved_models(save_dir: str) -> dict:
    """Load every ``*.keras`` model in ``save_dir`` on the current backend; their logits on :func:`probe_images`.

    Returns:
        ``{"backend": ..., "logits": {saved_under_backend: nested lists}, "tensorflow_loaded": bool}``.
    """
    from pathlib import Path

    import unet_lib.metrics  # noqa: F401 - registers the course's metric, so the models load
    from unet_lib import keras

    logits = {}
    for path in sorted(Path(save_dir).glob("*.keras")):
        # compile=False: a model's compile config names its backend's own optimizer class (e.g. under
        # keras.src.backend.torch), so compiling it here would import torch into a TensorFlow process.
        model = keras.models.load_model(path, compile=False)
        logits[path.stem] = keras.ops.convert_to_numpy(model(probe_images(), training=False)).tolist()
    return {"backend": keras.backend.backend(), "logits": logits, "tensorflow_loaded": "tensorflow" in sys.modules}


def _require_backend(backend: str) -> None:
    """Skip when the backend's package is missing on a learner's machine; fail in CI, which must test it.

    Torch is also skipped where the installed Keras is too old for it (Python 3.10): the course
    refuses it there (:func:`unet_lib._keras.check_backend_supported`, tested below).
    """
    if backend == "torch":
        from packaging.version import Version

        from unet_lib._keras import TORCH_NEEDS_KERAS

        keras_version = importlib.metadata.version("keras")
        if Version(keras_version) < Version(TORCH_NEEDS_KERAS):
            pytest.skip(f"Keras {keras_version} computes strided Conv2DTranspose wrongly under torch; "
                        f"the course refuses torch before Keras {TORCH_NEEDS_KERAS}")
    if importlib.util.find_spec(backend) is not None:
        return
    extra = "jax" if backend == "jax" else backend
    message = (f"The '{backend}' package is not installed, so the {backend} backend cannot be tested: "
               f"make test EXTRAS=dev,jax,torch, or .venv/bin/pip install -e '.[{extra}]' (it pins {backend}).")
    if os.environ.get("CI") and backend in REQUIRED_IN_CI:
        pytest.fail(message + " CI must run these tests, not skip them.")
    pytest.skip(message)


@functools.cache
def _saved_models_dir() -> str:
    path = tempfile.mkdtemp(prefix="unet-backends-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


@functools.cache
def _run(backend: str, function: str) -> subprocess.CompletedProcess:
    # One run per backend and function for the whole session: the tests below read the same result.
    environment = {**os.environ, "KERAS_BACKEND": backend}
    return subprocess.run([sys.executable, "-c", RUN_IN_SUBPROCESS.format(function=function), _saved_models_dir()],
                          cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=600, check=False)


def run_on_backend(backend: str, function: str = "train_tiny_unet") -> tuple[dict, str]:
    """``function`` of this module under ``KERAS_BACKEND=backend``: its report and the process's stderr."""
    _require_backend(backend)
    completed = _run(backend, function)
    assert completed.returncode == 0, f"{backend} run of {function} failed (exit {completed.returncode}):\n" \
                                      f"{completed.stderr[-3000:]}"
    return json.loads(completed.stdout.strip().splitlines()[-1]), completed.stderr


def installed_backends() -> list[str]:
    """The backends whose package is importable here (TensorFlow and JAX must be, in CI)."""
    return [backend for backend in BACKENDS if importlib.util.find_spec(backend) is not None]


def load_every_saved_model(backend: str) -> tuple[dict, dict]:
    """Train and save under every installed backend, then load all those models under ``backend``.

    Returns:
        ``(saved, loaded)``: each backend's own logits on :func:`probe_images` (a NumPy array per
        backend), and :func:`predict_with_saved_models`'s report under ``backend``.
    """
    import numpy as np

    saved = {name: np.array(run_on_backend(name)[0]["logits"]) for name in installed_backends()}
    loaded, stderr = run_on_backend(backend, "predict_with_saved_models")
    assert stderr == "", f"{backend}: lines leaked to stderr while loading: {stderr[:800]}"
    return saved, loaded


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
    _, stderr = run_on_backend(backend)
    assert stderr == "", f"{backend}: lines leaked to stderr: {stderr[:800]}"


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_other_backends_never_load_tensorflow(backend):
    # Seeding, training, saving and loading: Keras would import TensorFlow for the first and the last two.
    trained, _ = run_on_backend(backend)
    _, loaded = load_every_saved_model(backend)
    assert not trained["tensorflow_loaded"] and not loaded["tensorflow_loaded"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_conv_transpose_shapes_agree_with_tensorflow(backend):
    report, _ = run_on_backend(backend)
    # Depth 2 on 16x16: the decoder upsamples 4x4 -> 8x8 with 8 filters, then 8x8 -> 16x16 with 4.
    assert report["conv_transpose"] == {"decoder1_upsample": [2, 8, 8, 8], "decoder2_upsample": [2, 16, 16, 4]}
    # Keras's rules for a 5x7 input, stride 2, kernel 3: "same" doubles, "valid" gives (i - 1) * 2 + 3.
    assert report["odd_conv_transpose"] == {"same": [1, 10, 14, 2], "valid": [1, 11, 15, 2]}
    assert report["model_output"] == [2, 16, 16, 3]


@pytest.mark.parametrize("backend", BACKENDS)
def test_models_saved_under_every_backend_predict_the_same_here(backend):
    import numpy as np

    saved, report = load_every_saved_model(backend)
    assert sorted(report["logits"]) == sorted(saved)
    for saved_under, logits in report["logits"].items():
        np.testing.assert_allclose(np.array(logits), saved[saved_under], rtol=PREDICTION_TOLERANCE,
                                   atol=PREDICTION_TOLERANCE, err_msg=f"saved under {saved_under}, loaded by {backend}")


def test_torch_is_refused_with_a_keras_that_shifts_transposed_convolutions():
    from unet_lib._keras import check_backend_supported

    with pytest.raises(RuntimeError, match=r"needs Keras >= 3\.15\.0, but Keras 3\.12\.4 .* one pixel.*Python 3\.10"):
        check_backend_supported("torch", "3.12.4")
    check_backend_supported("torch", "3.15.0")
    for backend in ("tensorflow", "jax"):
        check_backend_supported(backend, "3.12.4")
