"""``python -m sscn_core``: see sscn_core.cli."""
import sys

from .cli import main

sys.exit(main())
