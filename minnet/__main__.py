"""``python -m minnet ...`` runs the command line (see minnet/cli.py)."""
import sys

from .cli import main

sys.exit(main())
