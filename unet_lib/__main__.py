"""Run the course command line: ``python -m unet_lib --help``."""

import sys

from unet_lib.cli import main

sys.exit(main())
