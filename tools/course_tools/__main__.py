"""Run the instructor's command line: ``python -m course_tools --help``."""

import sys

from course_tools.cli import main

sys.exit(main())
