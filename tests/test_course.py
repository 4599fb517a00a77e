"""The course map, and the shape every lesson notebook must have."""

import json
import re

import nbformat
import pytest

from unet_lib import course_map_markdown
from unet_lib.course import list_lessons

REQUIRED_SECTIONS = ("**What you'll do**", "**What you'll learn**", "**What you'll need**", "## Summary")


def _notebook(cells):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = cells
    return nbformat.writes(notebook)


def test_course_map_lists_lessons_in_order(tmp_path):
    (tmp_path / "01_second.ipynb").write_text(_notebook([nbformat.v4.new_markdown_cell("# Second lesson")]))
    (tmp_path / "00_first.ipynb").write_text(_notebook([nbformat.v4.new_markdown_cell("intro\n# First lesson")]))
    (tmp_path / "notes.ipynb").write_text(_notebook([]))  # not a numbered lesson
    assert [lesson.file_name for lesson in list_lessons(tmp_path)] == ["00_first.ipynb", "01_second.ipynb"]
    assert course_map_markdown(tmp_path, link_prefix="lessons/") == (
        "- 00 [First lesson](lessons/00_first.ipynb)\n- 01 [Second lesson](lessons/01_second.ipynb)"
    )


def test_course_map_bad_input(tmp_path):
    with pytest.raises(ValueError, match="lessons_dir must be a folder"):
        list_lessons(tmp_path / "missing")
    (tmp_path / "00_untitled.ipynb").write_text(_notebook([nbformat.v4.new_code_cell("1")]))
    with pytest.raises(ValueError, match="has no '# ' title"):
        list_lessons(tmp_path)


def test_readme_links_every_lesson(repo_root):
    readme = (repo_root / "README.md").read_text()
    for lesson in list_lessons(repo_root / "lessons"):
        assert f"(lessons/{lesson.file_name})" in readme, f"README's lesson map lacks {lesson.file_name}"


def _lesson_paths(repo_root):
    paths = sorted((repo_root / "lessons").glob("*.ipynb"))
    assert paths, "no lessons found"
    return paths


def test_lessons_are_committed_without_outputs(repo_root):
    stored = []
    for path in _lesson_paths(repo_root):
        for index, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count")):
                stored.append(f"{path.name} cell {index}")
    assert not stored, f"strip outputs and execution counts (CI executes the lessons): {stored}"


def test_lessons_have_the_course_structure(repo_root):
    for path in _lesson_paths(repo_root):
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), f"{path.name}: name lessons NN_topic.ipynb"
        markdown = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
        missing = [section for section in REQUIRED_SECTIONS if section not in markdown]
        assert not missing, f"{path.name} lacks the sections {missing}"


def test_every_exercise_has_balanced_markers_and_a_self_check(repo_root):
    for path in _lesson_paths(repo_root):
        cells = nbformat.read(path, as_version=4).cells
        for index, cell in enumerate(cells):
            begins = cell.source.count("### BEGIN SOLUTION")
            assert begins == cell.source.count("### END SOLUTION"), f"{path.name} cell {index}: unbalanced markers"
            if begins and cell.cell_type == "code":
                following = [c.source for c in cells[index + 1:] if c.cell_type == "code"][:1]
                assert following and "check_" in following[0], (
                    f"{path.name} cell {index}: an exercise must be followed by a self-check cell"
                )


def lesson_imports(notebook_path) -> list[tuple[int, str, str]]:
    """``(cell, module, name)`` of every ``from unet_lib... import name``, ``import unet_lib...`` (``name`` empty) and
    ``unet_lib.name`` of a lesson."""
    import ast

    found = []
    for index, cell in enumerate(nbformat.read(notebook_path, as_version=4).cells):
        if cell.cell_type != "code":
            continue
        source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines())
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "unet_lib":
                found += [(index, node.module, alias.name) for alias in node.names]
            elif isinstance(node, ast.Import):
                found += [(index, alias.name, "") for alias in node.names if alias.name.split(".")[0] == "unet_lib"]
            elif isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == "unet_lib":
                found.append((index, "unet_lib", node.attr))
    return found


def test_lessons_import_only_what_the_package_exports_and_it_exports_nothing_else(repo_root):
    """A lesson imports names from ``unet_lib`` itself, never from a module (private or not); the package exports
    exactly those names and the graded reference functions (which the learner writes, so no lesson imports them)."""
    from course_tools.exercises import discover_exercises

    import unet_lib

    exported, used, problems = set(unet_lib.__all__), set(), []
    for path in sorted((repo_root / "lessons").glob("*.ipynb")):
        for index, module, name in lesson_imports(path):
            if module != "unet_lib":
                problems.append(f"{path.name} cell {index} imports {name or module} from {module}, not from unet_lib")
            elif name and name not in exported and not name.startswith("__"):
                problems.append(f"{path.name} cell {index} imports {name}, which unet_lib does not export")
            used.add(name)
    exercises = discover_exercises(repo_root / "unet_lib").values()
    references = {exercise.function.rsplit(".", 1)[1] for exercise in exercises}
    problems += [f"unet_lib exports {name}, which no lesson imports" for name in sorted(exported - used - references)]
    assert problems == [], "\n".join(problems)
    for name in exported:  # and every export resolves
        assert getattr(unet_lib, name) is not None


def test_the_lesson_import_check_sees_private_and_submodule_imports(tmp_path):
    cells = [nbformat.v4.new_code_cell("%matplotlib inline\nfrom unet_lib._keras import keras\nimport unet_lib.data"),
             nbformat.v4.new_code_cell("from unet_lib import set_seed\nfrom unet_lib.training import CPU_CONFIG"),
             nbformat.v4.new_code_cell("import unet_lib\nprint(unet_lib.GPU_ADVICE)")]
    (tmp_path / "00_x.ipynb").write_text(_notebook(cells))
    assert lesson_imports(tmp_path / "00_x.ipynb") == [(0, "unet_lib._keras", "keras"), (0, "unet_lib.data", ""),
                                                       (1, "unet_lib", "set_seed"), (1, "unet_lib.training",
                                                                                     "CPU_CONFIG"),
                                                       (2, "unet_lib", ""), (2, "unet_lib", "GPU_ADVICE")]


def test_the_readme_table_of_exercises_is_the_declarations(repo_root):
    from course_tools.exercises import discover_exercises

    readme = (repo_root / "README.md").read_text()
    rows = re.findall(r"^\| (\d\d) \| `(\w+)` \| (\d+) \|$", readme, re.MULTILINE)
    declared = sorted((exercise.lessons[0][:2], name, str(exercise.points))
                      for name, exercise in discover_exercises(repo_root / "unet_lib").items())
    assert sorted(rows) == declared
    total = sum(int(points) for _, _, points in rows)
    assert f"each graded in one lesson, {total} points in all" in readme
