"""Old keyword arguments that still work, with LangGraph's deprecation warnings."""

from __future__ import annotations

import warnings
from typing import Any

from threadloom.warnings import LangGraphDeprecationWarning

__all__ = ["pop_renamed"]


def pop_renamed(
    kwargs: dict[str, Any],
    renames: dict[str, tuple[str, type[LangGraphDeprecationWarning]]],
    *,
    stacklevel: int = 3,
) -> dict[str, Any]:
    """Pop each old keyword of ``renames`` (old -> (new name, warning)) from ``kwargs``, warning.

    Returns the popped values under their new names.
    """
    found: dict[str, Any] = {}
    for old, (new, category) in renames.items():
        if old in kwargs:
            warnings.warn(
                f"`{old}` is deprecated and will be removed. Please use `{new}` instead.",
                category,
                stacklevel=stacklevel,
            )
            found[new] = kwargs.pop(old)
    return found
