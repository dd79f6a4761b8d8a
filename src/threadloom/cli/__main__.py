"""``python -m threadloom.cli``: the same as the ``threadloom`` command."""

import sys

from threadloom.cli import main

if __name__ == "__main__":  # importing this module must do nothing
    sys.exit(main())
