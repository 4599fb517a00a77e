"""The instructor's and maintainer's command line: ``python -m course_tools VERB ...``."""

from __future__ import annotations

import sys

from course_tools import bench, figures, grade, nbgrader_cells, release
from unet_lib.cli import command_line


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) and run the chosen verb; return its exit code."""
    return command_line(
        "python -m course_tools",
        "The U-Net course's tools for instructors and maintainers: student releases, nbgrader metadata, grading, "
        "the figures of media/, benchmarks.",
        (release.add_command, nbgrader_cells.add_command, grade.add_command, figures.add_command, bench.add_command),
        argv)


if __name__ == "__main__":
    sys.exit(main())
