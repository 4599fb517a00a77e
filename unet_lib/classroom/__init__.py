"""Classroom mode: a student release without solutions, an nbgrader course, and grading students cannot subvert.

- :mod:`unet_lib.classroom.release` writes the student copy (``python -m unet_lib release OUT_DIR``) and
  the nbgrader course (``--nbgrader``).
- :mod:`unet_lib.classroom.nbgrader_cells` writes the lessons' nbgrader cell metadata.
- :mod:`unet_lib.classroom.grade` grades a folder of submissions (``python -m unet_lib grade COURSE DIR``):
  student code runs unprivileged (:mod:`unet_lib.classroom.sandbox`), the student's functions are called on
  the graded cases there (:mod:`unet_lib.classroom.sandbox_harness`) and only plain data comes back
  (:mod:`unet_lib.classroom.plain_data`); the points are decided outside, against the reference's answers
  recorded by the release; the notebook runs in a second sandbox for the feedback
  (:mod:`unet_lib.classroom.sandbox_notebook`); each submission in a cgroup under a
  :mod:`unet_lib.classroom.reaper`.

The release and the metadata tool find the exercises the same way (:mod:`unet_lib.classroom.exercises`):
every module under ``<package>/checks/`` may define ``GRADED = {"<exercise>": ["<package>.module.function",
...]}``, with ``<exercise>_cases()`` and ``check_<exercise>(fn)`` beside it (and ``<exercise>_hidden_cases()``,
the cases only the grader uses, and ``GRADED_AS`` where the function builds a Keras block or model); a
lesson's exercise is a code cell holding ``### BEGIN SOLUTION`` / ``### END SOLUTION``, and the next code cell calls
``check_<exercise>(...)``. Nothing here lists the exercises by hand.
"""
