"""Classroom mode: a student release without solutions, an nbgrader course, and confined grading with nbgrader.

- :mod:`unet_lib.classroom.release` writes the student copy (``python -m unet_lib release OUT_DIR``) and
  the nbgrader course (``--nbgrader``).
- :mod:`unet_lib.classroom.nbgrader_cells` writes the lessons' nbgrader cell metadata.
- :mod:`unet_lib.classroom.grade` grades a folder of submissions with nbgrader's autograde, each kernel
  in bubblewrap (:mod:`unet_lib.classroom.sandbox_kernel`), each submission in a cgroup under a
  :mod:`unet_lib.classroom.reaper` (``python -m unet_lib grade COURSE DIR``).

The release and the metadata tool find the exercises the same way (:mod:`unet_lib.classroom.exercises`):
every module under ``<package>/checks/`` may define ``GRADED = {"<exercise>": ["<package>.module.function",
...]}``, with ``<exercise>_cases()`` and ``check_<exercise>(fn)`` beside it; a lesson's exercise is a code
cell holding ``### BEGIN SOLUTION`` / ``### END SOLUTION``, and the next code cell calls
``check_<exercise>(...)``. Nothing here lists the exercises by hand.
"""
