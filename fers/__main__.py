"""``python -m fers detect|bench ...`` (see :mod:`fers.cli`)."""

import sys

from fers.cli import main

sys.exit(main())
