"""``python -m microgradx``: the command line (see :mod:`microgradx.cli`)."""

import sys

from .cli import main

sys.exit(main())
