"""The course map, read from the lesson notebooks themselves so it cannot go stale."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

LESSON_NAME = re.compile(r"^(\d\d)_[a-z0-9_]+\.ipynb$")


@dataclasses.dataclass(frozen=True)
class Lesson:
    """A lesson notebook: its number, file name and the title from its first heading."""

    number: int
    file_name: str
    title: str


def lesson_title(notebook_path: Path) -> str:
    """The text of the first ``# `` heading in a notebook's markdown cells.

    Raises:
        ValueError: if no markdown cell has such a heading.
    """
    notebook = json.loads(notebook_path.read_text(encoding="utf-8"))
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        for line in "".join(cell.get("source", [])).splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    raise ValueError(f"{notebook_path} has no '# ' title in a markdown cell")


def list_lessons(lessons_dir: str | Path) -> list[Lesson]:
    """The numbered lessons (``NN_topic.ipynb``) in ``lessons_dir``, in order.

    Raises:
        ValueError: if ``lessons_dir`` is not a folder, or a lesson has no title heading.
    """
    lessons_dir = Path(lessons_dir)
    if not lessons_dir.is_dir():
        raise ValueError(f"lessons_dir must be a folder of lesson notebooks, got {str(lessons_dir)!r}")
    lessons = []
    for path in sorted(lessons_dir.iterdir()):
        match = LESSON_NAME.match(path.name)
        if match:
            lessons.append(Lesson(int(match.group(1)), path.name, lesson_title(path)))
    return lessons


def course_map_markdown(lessons_dir: str | Path, link_prefix: str = "") -> str:
    """A Markdown list linking every lesson, e.g. ``- 00 [Set up the course](00_setup.ipynb)``.

    Args:
        lessons_dir: the folder holding the lessons.
        link_prefix: prepended to each file name in the links (``"lessons/"`` from the README).
    """
    return "\n".join(
        f"- {lesson.number:02d} [{lesson.title}]({link_prefix}{lesson.file_name})"
        for lesson in list_lessons(lessons_dir)
    )
