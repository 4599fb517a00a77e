"""course_tools: the U-Net course's tools for instructors and maintainers (``python -m course_tools``).

Installed beside :mod:`unet_lib` by the dev extra (``pip install -e tools``), never shipped to students.

- :mod:`~course_tools.exercises` reads the exercises' declarations (``GRADED`` in ``unet_lib/checks/``) and finds
  their answer and self-check cells in the lessons; :func:`~course_tools.exercises.declaration_problems` says
  where they disagree.
- :mod:`~course_tools.release` writes the student copy (``release OUT_DIR``) and the nbgrader course
  (``--nbgrader``), whose self-checks get the hidden cases; :mod:`~course_tools.nbgrader_cells` writes the
  lessons' nbgrader cell metadata.
- :mod:`~course_tools.grade` grades a folder of submissions (``grade COURSE DIR``): student code runs unprivileged
  (:mod:`~course_tools.sandbox`), the student's functions are called on the graded cases there
  (:mod:`~course_tools.sandbox_harness`) and only plain data comes back (:mod:`~course_tools.plain_data`); the
  points are decided outside, against the reference's answers recorded by the release
  (:mod:`~course_tools.record`); the notebook runs in a second sandbox for the feedback
  (:mod:`~course_tools.sandbox_notebook`); each submission in a cgroup under a :mod:`~course_tools.reaper`.
- :mod:`~course_tools.figures` draws ``media/``; :mod:`~course_tools.bench` holds every benchmark.
"""
