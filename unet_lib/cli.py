"""The learner's command line: ``python -m unet_lib env`` and ``python -m unet_lib train``.

``env`` prints versions, backend and GPUs as JSON. ``train`` trains the U-Net of lessons 04 and 05 with this
machine's default configuration, on the embedded scenes or on a dataset folder (``--data DIR``),
evaluates it on held-out images, saves it and prints one final line of JSON. Keras is imported only
when a verb runs, so ``--help`` stays fast. The instructor's verbs (release, grade, figures, bench) are
``python -m course_tools``'s, which builds its parser with :func:`command_line` too.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import sys
import time
from pathlib import Path


def add_env_command(subparsers) -> None:
    """The ``env`` verb: print versions, backend and GPUs as JSON."""
    parser = subparsers.add_parser(
        "env", help="print Python, Keras and backend versions and the visible GPUs as JSON"
    )
    parser.set_defaults(handler=_run_env)


def _run_env(arguments: argparse.Namespace) -> int:
    from unet_lib.environment import check_versions, describe_environment

    report = describe_environment()
    report["packages"] = {v.name: {"required": v.required, "installed": v.installed, "ok": v.ok}
                          for v in check_versions()}
    print(json.dumps(report, indent=2))
    return 0 if all(package["ok"] for package in report["packages"].values()) else 1


def command_line(prog: str, description: str, add_commands, argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) into one of the verbs and run it; return its exit code.

    Args:
        prog, description: as for ``argparse.ArgumentParser``.
        add_commands: functions ``add(subparsers)`` that each add a verb and set its ``handler`` (a function
            taking the parsed arguments and returning an exit code), in the order ``--help`` lists them.
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    subparsers = parser.add_subparsers(title="verbs", metavar="VERB")
    for add in add_commands:
        add(subparsers)
    arguments = parser.parse_args(argv)
    if not hasattr(arguments, "handler"):
        parser.print_help()
        return 2
    return arguments.handler(arguments)


def main(argv: list[str] | None = None) -> int:
    """``python -m unet_lib``: the ``env`` and ``train`` verbs."""
    return command_line("python -m unet_lib", "The U-Net course's command line: your environment, and training.",
                        (add_env_command, add_train_command), argv)


def add_train_command(subparsers) -> None:
    """The ``train`` verb: train the lesson's U-Net, save it, print a JSON summary as the last line."""
    parser = subparsers.add_parser(
        "train",
        help="train the lesson 05 U-Net on the embedded shapes data and report held-out mean IoU as JSON",
        description="Train the U-Net of lesson 05 with this machine's default configuration (a small one "
        "on a CPU, a larger one with mixed precision and XLA on a GPU), evaluate it on held-out scenes, "
        "save it, and print a final line of JSON.",
    )
    parser.add_argument("--config", choices=("cpu", "gpu"), help="start from CPU_CONFIG or GPU_CONFIG (default: "
                        "GPU_CONFIG where a GPU is visible, else CPU_CONFIG); the options below override it")
    parser.add_argument("--epochs", type=int, help="passes over the training scenes (default: the configuration's)")
    parser.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"), help="scene height and width")
    parser.add_argument("--batch-size", type=int, help="scenes per gradient step")
    parser.add_argument("--n-train", type=int, help="number of training scenes")
    parser.add_argument("--seed", type=int, help="seed of the initial weights, the shuffling and the training "
                        "scenes (default: the configuration's); the held-out scenes stay the same")
    parser.add_argument("--data", metavar="DIR", help="train on your folder instead of the embedded scenes: DIR "
                        "holds images/ and masks/ (class indices 0 to n-1, or 0 and 255 for a binary problem), "
                        "or CARLA's CameraRGB/ and CameraMask/, or the Oxford-IIIT Pet's images/ and "
                        "annotations/trimaps/; 10%% is held out for evaluation")
    parser.add_argument("--model", metavar="FILE.keras", help="train this saved model (architecture and weights, "
                        "e.g. one your own unet_model built in a lesson) instead of building the library's U-Net; "
                        "its input must take the configuration's image size")
    parser.add_argument("--out", default="build/unet_shapes.keras", help="where to save the trained model "
                        "(default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar, only the final JSON line")
    parser.set_defaults(handler=_run_train)


def _run_train(arguments: argparse.Namespace) -> int:
    from unet_lib._keras import keras
    from unet_lib.data import CLASS_NAMES, split_held_out
    from unet_lib.inference import predict_masks
    from unet_lib.metrics import evaluate_segmentation
    from unet_lib.training import CPU_CONFIG, GPU_CONFIG, default_config, describe_device, train_unet

    command_start = time.perf_counter()
    overrides = {
        "epochs": arguments.epochs,
        "image_size": tuple(arguments.image_size) if arguments.image_size else None,
        "batch_size": arguments.batch_size,
        "n_train": arguments.n_train,
        "seed": arguments.seed,
    }
    try:
        base = {"cpu": CPU_CONFIG, "gpu": GPU_CONFIG}.get(arguments.config) or default_config()
        config = dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})
        data, class_names = {}, CLASS_NAMES
        if arguments.data is not None:
            from unet_lib.folders import load_dataset_folder

            # --quiet promises the JSON line alone; the loader's one-line note on 0/255 masks is left out
            # (the class names "background" and "object" in the JSON still tell).
            with contextlib.redirect_stdout(io.StringIO()) if arguments.quiet else contextlib.nullcontext():
                images, masks, class_names = load_dataset_folder(arguments.data, config.image_size)
            data["train_data"], data["held_out"] = split_held_out(images, masks)
        build_model = None if arguments.model is None else _saved_model(arguments.model)
        run = train_unet(config, build_model=build_model, n_classes=len(class_names),
                         verbose=0 if arguments.quiet else 1, **data)
    except ValueError as error:
        print(json.dumps({"error": str(error)}))
        return 2
    except NotImplementedError:  # the stub of a student copy
        print(json.dumps({"error": "unet_model is an exercise of lesson 04, not written in this copy of the library: "
                                   "write it in lesson 04 first and train in lesson 05, or pass --model FILE.keras "
                                   "with a model saved from your notebook"}))
        return 2
    images, masks = run.held_out
    scores = evaluate_segmentation(masks, predict_masks(run.model, images), len(class_names))
    out = Path(arguments.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    run.model.save(out)
    report = {
        "val_mean_iou": round(scores["mean_iou"], 4),
        "val_pixel_accuracy": round(scores["pixel_accuracy"], 4),
        "val_iou_per_class": dict(zip(class_names, (round(v, 4) for v in scores["iou_per_class"]), strict=True)),
        "data": arguments.data or "embedded synthetic scenes",
        "train_seconds": round(run.train_seconds, 1),
        "train_cpu_seconds": round(run.cpu_seconds, 1),
        "total_seconds": round(time.perf_counter() - command_start, 1),
        "images_per_second": round(run.images_per_second, 1),
        "backend": keras.backend.backend(),
        "device": describe_device(),
        "config": dataclasses.asdict(config),
        "model": str(out),
    }
    print(json.dumps(report))
    return 0


def _saved_model(path: str):
    """A ``build_model`` for :func:`unet_lib.training.train_unet` that loads ``path`` and checks its sizes."""
    from unet_lib._keras import keras

    if not Path(path).is_file():
        raise ValueError(f"--model must be a saved .keras file, got {path!r}, which does not exist")

    def load(input_size, n_filters, n_classes, **options):
        model = keras.saving.load_model(path, compile=False)  # compiled anew with the course's loss
        takes = tuple(model.input.shape)[1:3]
        if any(side not in (None, wanted) for side, wanted in zip(takes, input_size[:2], strict=True)) \
                or tuple(model.output.shape)[-1] != n_classes:
            raise ValueError(f"--model {path} maps {tuple(model.input.shape)} images to {tuple(model.output.shape)} "
                             f"logits; this run needs {input_size[0]}x{input_size[1]} images and {n_classes} classes "
                             "(see --image-size)")
        return model

    return load


if __name__ == "__main__":
    sys.exit(main())
