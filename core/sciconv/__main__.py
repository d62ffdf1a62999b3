"""``python -m sciconv`` is the ``pipeline`` command."""

import sys

from sciconv.cli import main

sys.exit(main())
