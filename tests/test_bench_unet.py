"""``bench unet``: the FLOP count against a hand-computed model, argument checks, and a tiny run (no timing asserts)."""

import json
import os
import re
import subprocess
import sys

import pytest
from course_tools.bench import conv_flops_per_image, validated_settings
from course_tools.cli import main

from tests.conftest import REPO_ROOT
from unet_lib import keras
from unet_lib.reference.model import unet_model

TINY = ["--image-size", "16", "16", "--depth", "2", "--n-filters", "4", "--batch-size", "2", "--steps", "2",
        "--warmup-steps", "1"]


def test_conv_flops_of_a_hand_computed_model():
    inputs = keras.Input((4, 6, 2))
    x = keras.layers.Conv2D(3, 3, padding="same")(inputs)  # 4x6x3 out: 2 * 4*6 * 3*3 * 2*3 = 2592
    x = keras.layers.BatchNormalization()(x)  # not a convolution: not counted
    x = keras.layers.Conv2D(4, 3, strides=2)(x)  # "valid": 1x2x4 out: 2 * 1*2 * 3*3 * 3*4 = 432
    x = keras.layers.Conv2DTranspose(6, 2, strides=2)(x)  # counted on its 1x2 input: 2 * 1*2 * 2*2 * 4*6 = 384
    x = keras.layers.Conv2D(2, 1, groups=2)(x)  # 2x4x2 out, 6/2 inputs per group: 2 * 2*4 * 1*1 * 3*2 = 96
    assert tuple(x.shape) == (None, 2, 4, 2)
    assert conv_flops_per_image(keras.Model(inputs, x)) == 2592 + 432 + 384 + 96


def test_unet_flops_grow_with_the_image_area():
    small = conv_flops_per_image(unet_model((32, 32, 3), n_filters=4, n_classes=3, depth=2))
    large = conv_flops_per_image(unet_model((64, 32, 3), n_filters=4, n_classes=3, depth=2))
    assert small > 0 and large == 2 * small


def test_conv_flops_refuses_what_it_cannot_count():
    inputs = keras.Input((8, 8, 2))
    depthwise = keras.Model(inputs, keras.layers.DepthwiseConv2D(3)(inputs))
    with pytest.raises(ValueError, match="Conv2D and Conv2DTranspose layers only.*DepthwiseConv2D"):
        conv_flops_per_image(depthwise)
    with pytest.raises(ValueError, match="fixed image size"):
        conv_flops_per_image(unet_model((None, None, 3), n_filters=4, n_classes=3, depth=2))


def test_validated_settings_name_the_wrong_argument():
    good = {"image_size": (32, 32), "n_filters": 4, "depth": 2, "batch_size": 2, "precision": "float32",
            "steps": 2, "warmup_steps": 1, "jit_compile": None, "n_classes": 3}
    assert validated_settings(**good)["image_size"] == (32, 32)
    for change, message in [
        ({"image_size": (30, 32)}, r"multiples of 2\*\*depth = 4 .*for example 32 32"),
        ({"image_size": (32,)}, "image_size must be a pair"),
        ({"n_filters": 0}, "n_filters must be a positive integer, got 0"),
        ({"steps": 1.5}, "steps must be a positive integer"),
        ({"warmup_steps": 0}, "warmup_steps must be a positive integer"),
        ({"precision": "float64"}, "precision must be one of"),
        ({"jit_compile": "yes"}, "jit_compile must be True, False or None"),
    ]:
        with pytest.raises(ValueError, match=message):
            validated_settings(**{**good, **change})


@pytest.mark.extended
def test_bench_unet_prints_one_json_line_with_positive_numbers(capsys):
    assert main(["bench", "unet", *TINY]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    expected_model = unet_model((16, 16, 3), n_filters=4, n_classes=3, depth=2, batch_norm=True)
    assert report["backend"] == keras.backend.backend()
    assert report["device"] and isinstance(report["jit_compile"], bool)
    assert report["precision"] == report["compute_dtype"] == "float32"
    assert report["image_size"] == [16, 16]
    assert (report["n_filters"], report["depth"], report["batch_size"]) == (4, 2, 2)
    assert report["parameters"] == expected_model.count_params()
    for key in ("train_images_per_second", "inference_images_per_second", "train_step_ms", "inference_step_ms",
                "train_gflop_per_image", "achieved_tflops"):
        assert report[key] > 0, (key, report[key])
    assert report["train_gflop_per_image"] == pytest.approx(3 * conv_flops_per_image(expected_model) / 1e9, rel=1e-3)


@pytest.mark.parametrize("arguments, message", [
    (["--image-size", "30", "30"], "multiples of 2\\*\\*depth = 16"),
    (["--steps", "0"], "steps must be a positive integer, got 0"),
    (["--batch-size", "-1"], "batch_size must be a positive integer, got -1"),
    (["--precision", "float64"], "invalid choice: 'float64'"),
    (["--depth", "two"], "invalid int value: 'two'"),
])
def test_bench_unet_bad_arguments_exit_2_with_a_clear_message(arguments, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "unet", *arguments])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "bench unet: error:" in error
    assert re.search(message, error), error


@pytest.mark.extended
def test_mixed_precision_applies_to_the_benchmarked_model_only():
    from course_tools.bench import run_unet_benchmark

    report = run_unet_benchmark((16, 16), n_filters=4, depth=2, batch_size=2, precision="mixed_bfloat16", steps=1,
                                warmup_steps=1)
    assert report["precision"] == "mixed_bfloat16" and report["compute_dtype"] == "bfloat16"
    assert report["train_images_per_second"] > 0
    assert keras.config.dtype_policy().name == "float32"


def test_presets_build_the_models_they_name():
    from course_tools.bench import PRESETS

    def parameters(preset):
        settings = PRESETS[preset]
        model = unet_model((*settings["image_size"], 3), n_filters=settings["n_filters"],
                           n_classes=settings["n_classes"], depth=settings["depth"], batch_norm=True)
        return model.count_params()

    assert PRESETS["mooc"]["image_size"] == (96, 128) and PRESETS["mooc"]["batch_size"] == 32
    # The widths of NVIDIA's UNet_Medical (Ronneberger et al.'s 31M parameters, with 2x2 up-convolutions);
    # the course's 3x3 transposed convolutions add 3.6M.
    assert parameters("unet-medical") == 34_568_194 and PRESETS["unet-medical"]["batch_size"] == 8
    assert all(side % 2 ** PRESETS["unet-medical"]["depth"] == 0 for side in PRESETS["unet-medical"]["image_size"])


def test_peak_flops_are_looked_up_by_gpu_name_and_precision():
    from course_tools.bench import peak_tflops

    assert peak_tflops("NVIDIA A100-SXM4-80GB", "mixed_float16") == 312.0
    assert peak_tflops("NVIDIA H200", "float32") == 67.0
    assert peak_tflops("NVIDIA H200", "mixed_bfloat16") == 989.0
    assert peak_tflops("Some Other GPU", "float32") is None and peak_tflops(None, "float32") is None


@pytest.mark.extended
def test_a_preset_is_overridden_by_explicit_options(capsys):
    assert main(["bench", "unet", "--preset", "mooc", *TINY]) == 0
    report = json.loads(capsys.readouterr().out)
    # The tiny options win; the preset's 23 classes stay.
    assert (report["image_size"], report["n_filters"], report["n_classes"]) == ([16, 16], 4, 23)
    assert report["gpu"] is None and report["fraction_of_peak"] is None  # no GPU here


@pytest.mark.extended
def test_bench_unet_runs_where_only_keras_and_jax_are_installed(tmp_path):
    # As on many GPU machines (tools/gpu_benchmark.sh): no TensorFlow, matplotlib, Pillow or widgets.
    pytest.importorskip("jax", reason="the jax extra is not installed")
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\nfor name in ('tensorflow', 'matplotlib', 'PIL', 'ipywidgets'):\n"
        "    sys.modules[name] = None  # importing it raises ImportError, as if it were not installed\n")
    path = os.pathsep.join([str(tmp_path), str(REPO_ROOT), str(REPO_ROOT / "tools")])
    environment = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": path}
    completed = subprocess.run([sys.executable, "-m", "course_tools", "bench", "unet", "--preset", "unet-medical",
                                "--precision", "mixed_float16", "--jit-compile", *TINY], cwd=REPO_ROOT,
                               env=environment, capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    report = json.loads(completed.stdout)
    assert (report["backend"], report["compute_dtype"], report["jit_compile"]) == ("jax", "float16", True)
    assert report["n_classes"] == 2 and report["train_images_per_second"] > 0
