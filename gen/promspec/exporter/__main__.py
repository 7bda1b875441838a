"""Entry point for `python -m promspec.exporter`."""

import sys

from .cli import main

sys.exit(main())
