"""The ``train`` verb: ``python -m unet_lib train [--epochs N] [--image-size H W] ...``.

Trains the U-Net of lesson 03 with this machine's default configuration, evaluates it on held-out
scenes, saves it and prints one final line of JSON. Keras is imported only when the verb runs, so
``python -m unet_lib --help`` stays fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path


def add_command(subparsers) -> None:
    """The ``train`` verb: train the lesson's U-Net, save it, print a JSON summary as the last line."""
    parser = subparsers.add_parser(
        "train",
        help="train the lesson 03 U-Net on the embedded shapes data and report held-out mean IoU as JSON",
        description="Train the U-Net of lesson 03 with this machine's default configuration (a small one "
        "on a CPU, a larger one with mixed precision and XLA on a GPU), evaluate it on held-out scenes, "
        "save it, and print a final line of JSON.",
    )
    parser.add_argument("--epochs", type=int, help="passes over the training scenes (default: the configuration's)")
    parser.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"), help="scene height and width")
    parser.add_argument("--batch-size", type=int, help="scenes per gradient step")
    parser.add_argument("--n-train", type=int, help="number of training scenes")
    parser.add_argument("--data", metavar="DIR", help="a folder of images and masks (not supported yet: the "
                        "command refuses it; without it, the embedded synthetic scenes are used)")
    parser.add_argument("--out", default="build/unet_shapes.keras", help="where to save the trained model "
                        "(default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar, only the final JSON line")
    parser.set_defaults(handler=_run_train)


def _run_train(arguments: argparse.Namespace) -> int:
    from unet_lib._keras import keras
    from unet_lib.data import CLASS_NAMES
    from unet_lib.training import default_config, describe_device, evaluate_segmentation, predict_masks, train_unet

    if arguments.data is not None:
        # Honest refusal rather than silently training on something else.
        print(json.dumps({"error": "--data DIR is not supported yet; train on the embedded scenes without it"}))
        return 2
    command_start = time.perf_counter()
    overrides = {
        "epochs": arguments.epochs,
        "image_size": tuple(arguments.image_size) if arguments.image_size else None,
        "batch_size": arguments.batch_size,
        "n_train": arguments.n_train,
    }
    try:
        config = dataclasses.replace(default_config(), **{k: v for k, v in overrides.items() if v is not None})
        run = train_unet(config, verbose=0 if arguments.quiet else 1)
    except ValueError as error:
        print(json.dumps({"error": str(error)}))
        return 2
    images, masks = run.held_out
    scores = evaluate_segmentation(masks, predict_masks(run.model, images))
    out = Path(arguments.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    run.model.save(out)
    report = {
        "val_mean_iou": round(scores["mean_iou"], 4),
        "val_pixel_accuracy": round(scores["pixel_accuracy"], 4),
        "val_iou_per_class": dict(zip(CLASS_NAMES, (round(v, 4) for v in scores["iou_per_class"]), strict=True)),
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
