"""Shared test configuration. Backend-specific fixtures live next to their tests."""

from __future__ import annotations

import os

# Tests never reach a model hub: everything they use ships in installed packages.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
