"""The command line: `python -m unet_lib`."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from unet_lib.cli import main


def test_help_lists_verbs(capsys):
    try:
        main(["--help"])
    except SystemExit as exit_:
        assert exit_.code == 0
    assert "env" in capsys.readouterr().out


def test_no_verb_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: python -m unet_lib" in capsys.readouterr().out


def test_env_verb_prints_json_in_a_subprocess():
    completed = subprocess.run(
        [sys.executable, "-m", "unet_lib", "env"], capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["packages"]["tensorflow"]["ok"]
    assert completed.stderr == "", f"unexpected stderr: {completed.stderr[:500]}"


@pytest.mark.slow
def test_train_verb_trains_a_black_and_white_folder_as_two_classes(tmp_path, capsys, monkeypatch):
    """Masks saved as 0 and 255, the usual black-and-white PNG, train as background and object."""
    from unet_lib._keras import keras
    from unet_lib.training import TrainingConfig

    tiny = TrainingConfig(image_size=(16, 16), n_filters=4, depth=2, n_train=8, n_held_out=2, epochs=1,
                          batch_size=4, learning_rate=1e-2)
    monkeypatch.setattr("unet_lib.training.CPU_CONFIG", tiny)
    monkeypatch.setattr("unet_lib.training.GPU_CONFIG", tiny)
    rng = np.random.default_rng(0)
    for sub in ("images", "masks"):
        (tmp_path / "data" / sub).mkdir(parents=True)
    for i in range(10):
        mask = np.zeros((16, 16), np.uint8)
        if i:  # the first scene is all background: the folder as a whole decides it is binary
            mask[rng.integers(0, 8):, rng.integers(0, 8):] = 255
        image = np.where(mask[..., None] > 0, 220, 30).astype(np.uint8).repeat(3, axis=-1)
        Image.fromarray(image).save(tmp_path / "data" / "images" / f"{i}.png")
        Image.fromarray(mask).save(tmp_path / "data" / "masks" / f"{i}.png")

    code = main(["train", "--data", str(tmp_path / "data"), "--quiet", "--out", str(tmp_path / "m.keras")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert len(out.strip().splitlines()) == 1, "--quiet prints the JSON line alone, not the loader's note"
    report = json.loads(out)
    assert list(report["val_iou_per_class"]) == ["background", "object"]
    assert tuple(keras.saving.load_model(tmp_path / "m.keras").output.shape) == (None, 16, 16, 2)


def test_train_verb_reports_masks_that_are_not_class_indices(tmp_path, capsys):
    for sub in ("images", "masks"):
        (tmp_path / sub).mkdir()
    for i, value in enumerate((0, 128, 255)):
        Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "images" / f"{i}.png")
        Image.fromarray(np.full((16, 16), value, np.uint8)).save(tmp_path / "masks" / f"{i}.png")
    assert main(["train", "--data", str(tmp_path), "--quiet"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert "root/masks" in error and "labels 0, 128, 255" in error and "(0 -> 0, 128 -> 1, 255 -> 2)" in error
