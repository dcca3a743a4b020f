"""``python -m trackwire.cli``: the ``trackwire`` command (how a collector child is started)."""

from __future__ import annotations

import sys

from trackwire.cli import main

sys.exit(main())
