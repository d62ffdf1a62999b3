"""``python -m sciconv`` is the ``pipeline`` command."""

import sys

from sciconv.cli import main

if __name__ == "__main__":
    sys.exit(main())
