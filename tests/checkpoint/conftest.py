"""Checkpoint tests share ``hostile.py`` (also used by tests/postgres): make it importable by name."""

from __future__ import annotations

import sys
from pathlib import Path

# The importlib import mode does not put test folders on sys.path.
sys.path.insert(0, str(Path(__file__).parent))
