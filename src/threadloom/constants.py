"""Graph markers, also importable from ``threadloom.graph``.

``START`` is the virtual node a graph begins at, ``END`` the one it stops at;
``INTERRUPT`` is the key under which a paused run reports its interrupts.
"""

from threadloom._engine._constants import END, INTERRUPT, START

__all__ = ["END", "INTERRUPT", "START"]
