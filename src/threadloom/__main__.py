"""``python -m threadloom``: the same as the ``threadloom`` command."""

import sys

if __name__ == "__main__":  # importing this module must do nothing
    from threadloom.cli import main

    sys.exit(main())
