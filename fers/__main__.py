"""``python -m fers detect|bench ...`` (see :mod:`fers.cli`)."""

import sys

from .cli import main

sys.exit(main())
