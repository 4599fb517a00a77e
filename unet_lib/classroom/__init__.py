"""Classroom mode: a student release without solutions, and a batch grader for submitted notebooks.

- :mod:`unet_lib.classroom.release` writes the student copy (``python -m unet_lib release OUT_DIR``).
- :mod:`unet_lib.classroom.grader` grades a folder of submissions (``python -m unet_lib grade DIR``).

Both find the exercises the same way (:mod:`unet_lib.classroom.exercises`): every module under
``<package>/checks/`` may define ``GRADED = {"<exercise>": ["<package>.module.function", ...]}``,
with ``<exercise>_cases()`` and ``check_<exercise>(fn)`` beside it; a lesson's exercise is a code
cell holding ``### BEGIN SOLUTION`` / ``### END SOLUTION``, and the next code cell calls
``check_<exercise>(...)``. Nothing here lists the exercises by hand.
"""
