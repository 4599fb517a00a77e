"""The learner's command line: `python -m unet_lib env` and `train`."""

import json
import subprocess
import sys

import numpy as np
from PIL import Image

from unet_lib import keras
from unet_lib.cli import main
from unet_lib.training import TrainingConfig

TINY = TrainingConfig(image_size=(32, 32), n_filters=4, depth=2, n_train=64, n_held_out=16, epochs=2,
                      batch_size=16, learning_rate=1e-2)
"""Trains in seconds; what the train verb is given instead of the machine's configuration."""


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


def test_train_verb_trains_a_black_and_white_folder_as_two_classes(tmp_path, capsys, monkeypatch):
    """Masks saved as 0 and 255, the usual black-and-white PNG, train as background and object."""
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
    assert list(report["val_iou_per_class"]) == ["background", "object"] and report["data"] == str(tmp_path / "data")
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


def test_train_verb_prints_json_and_saves(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("unet_lib.training.CPU_CONFIG", TINY)
    monkeypatch.setattr("unet_lib.training.GPU_CONFIG", TINY)
    out = tmp_path / "model.keras"
    code = main(["train", "--epochs", "1", "--seed", "3", "--quiet", "--out", str(out)])
    assert code == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"val_mean_iou", "train_seconds", "images_per_second", "backend", "device"} <= set(report)
    assert 0 <= report["val_mean_iou"] <= 1 and report["config"]["epochs"] == 1 and report["config"]["seed"] == 3
    reloaded = keras.saving.load_model(out)
    assert tuple(reloaded.output.shape) == (None, 32, 32, 3)


def test_train_verb_names_a_folder_of_no_known_layout(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path)]) == 2
    assert "matches no known layout" in json.loads(capsys.readouterr().out)["error"]
