"""The command line: ``python -m unet_lib VERB ...``.

Each verb lives in its own module, which defines ``add_command(subparsers)``: it adds a subparser
and sets ``handler`` (a function taking the parsed arguments and returning an exit code) as a
default. Adding a verb means writing that function and naming its module in ``COMMAND_MODULES``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

COMMAND_MODULES = ("unet_lib.cli", "unet_lib.figures", "unet_lib.bench", "unet_lib.classroom.release",
                   "unet_lib.classroom.nbgrader_cells", "unet_lib.classroom.grade", "unet_lib.train_command")
"""Modules that contribute verbs, in the order ``--help`` lists them."""


def add_command(subparsers) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every verb from ``COMMAND_MODULES``."""
    parser = argparse.ArgumentParser(
        prog="python -m unet_lib",
        description="Command line of the U-Net course: benchmarks, training, figures and more.",
    )
    subparsers = parser.add_subparsers(title="verbs", metavar="VERB")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_command(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) and run the chosen verb; return its exit code."""
    parser = build_parser()
    arguments = parser.parse_args(argv)
    if not hasattr(arguments, "handler"):
        parser.print_help()
        return 2
    return arguments.handler(arguments)


if __name__ == "__main__":
    sys.exit(main())
