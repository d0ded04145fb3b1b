"""``python -m odedsl``: the command line."""

from __future__ import annotations

import sys

from odedsl.cli import main

sys.exit(main())
