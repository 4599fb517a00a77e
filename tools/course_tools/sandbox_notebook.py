"""Run a submission's notebook for its feedback, inside the grading sandbox, and print it executed.

Run by :mod:`course_tools.grade` in a sandbox of its own (:mod:`course_tools.sandbox`) as ``python -I run.py
NOTEBOOK NAME CELL_SECONDS MAX_OUTPUT_BYTES``, in the folder where the lesson finds the student copy of the library
and its figures; the notebook is copied there as ``NAME`` first, where the lesson expects to be, with the job's
``given-*`` files (the earlier lessons' answers it imports). nbclient runs every cell with a kernel that lives in
the same sandbox: a cell past ``CELL_SECONDS`` is interrupted and the next one runs; an error is kept as an output
and the next cell runs; a kernel that dies ends the run with what ran so far. Each output's text and images are cut
to ``MAX_OUTPUT_BYTES`` in all. Points never come from here: the grader scores the functions with
:mod:`course_tools.sandbox_harness`. The executed notebook is printed as JSON.
"""

from __future__ import annotations

import json
import os
import sys


def cap_outputs(cells: list, max_bytes: int) -> None:
    """Cut the outputs of ``cells`` so that they add up to at most about ``max_bytes``: a printed text keeps its
    beginning, any other output larger than what is left is replaced by a note."""
    room = max_bytes
    for cell in cells:
        kept = []
        for output in cell.get("outputs", []):
            size = len(json.dumps(output))
            if size <= room:
                room -= size
                kept.append(output)
            elif output.get("output_type") == "stream":
                text = "".join(output.get("text", ""))
                kept.append({**output, "text": text[:max(room, 0)] + f"\n[{len(text) - max(room, 0)} more characters "
                             "left out: over the grader's limit]\n"})
                room = 0
            else:
                kept.append({"output_type": "stream", "name": "stderr",
                             "text": f"[an output of {size} bytes left out: over the grader's limit]\n"})
        cell["outputs"] = kept


def main(notebook_path: str, name: str, cell_seconds: str, max_bytes: str) -> None:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    result_fd = os.dup(1)  # what the kernel or the client prints goes to stderr, not into the result
    os.dup2(2, 1)
    notebook = nbformat.read(notebook_path, as_version=4)
    nbformat.write(notebook, os.path.basename(name))
    job = os.path.dirname(os.path.abspath(notebook_path))
    for given in sorted(os.listdir(job)):  # earlier lessons' answers the lesson imports (my_unet.py), writable here
        if given.startswith("given-"):
            with open(os.path.join(job, given), "rb") as source, open(given[len("given-"):], "wb") as copy:
                copy.write(source.read())
    client = NotebookClient(notebook, timeout=int(cell_seconds), interrupt_on_timeout=True, allow_errors=True,
                            kernel_name="python3", resources={"metadata": {"path": os.getcwd()}})
    try:
        client.execute()
    except DeadKernelError as error:
        notebook.cells.append(nbformat.v4.new_markdown_cell(f"**The kernel died here** ({error}); later cells did "
                                                            "not run."))
    except Exception as error:  # noqa: BLE001 - whatever stopped the run, the feedback says so
        notebook.cells.append(nbformat.v4.new_markdown_cell(f"**The run stopped here**: {type(error).__name__}."))
    cap_outputs(notebook.cells, int(max_bytes))
    with os.fdopen(result_fd, "wb") as result:
        result.write(json.dumps(notebook).encode("utf-8") + b"\n")
    os._exit(0)


if __name__ == "__main__":
    main(*sys.argv[1:])
