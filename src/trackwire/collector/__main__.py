"""``python -m trackwire.collector``: the same as ``trackwire collector``, without the script.

Useful where the ``trackwire`` script is not on ``PATH`` (a virtualenv that is not activated).
"""

from __future__ import annotations

import sys

from trackwire.cli import main

if __name__ == "__main__":
    sys.exit(main(["collector", *sys.argv[1:]]))
