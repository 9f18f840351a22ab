"""``python -m sscn_core``: the ``sscn`` command, see sscn_core.cli."""
import sys

from .cli import main

sys.exit(main(prog="python -m sscn_core"))
