"""Deprecation warnings, under the names LangGraph programs filter and test for.

``LangGraphDeprecationWarning`` is a ``DeprecationWarning`` that records the
LangGraph version that deprecated a feature (``since``) and the one expected to
remove it; a subclass per version (``LangGraphDeprecatedSinceV10``, ...) lets a
program catch or silence one generation of deprecations.

Example::

    import warnings
    from typing import TypedDict

    from threadloom.graph import StateGraph
    from threadloom.warnings import LangGraphDeprecatedSinceV10

    class State(TypedDict):
        n: int

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        StateGraph(State, config_schema=State)
    assert caught[0].category is LangGraphDeprecatedSinceV10
"""

from __future__ import annotations

__all__ = [
    "LangGraphDeprecatedSinceV05",
    "LangGraphDeprecatedSinceV10",
    "LangGraphDeprecatedSinceV11",
    "LangGraphDeprecationWarning",
]


class LangGraphDeprecationWarning(DeprecationWarning):
    """A deprecated feature: ``message``, deprecated ``since`` a version, removed in ``expected_removal``."""

    message: str
    since: tuple[int, int]
    expected_removal: tuple[int, int]

    def __init__(
        self,
        message: str,
        *args: object,
        since: tuple[int, int],
        expected_removal: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(message, *args)
        self.message = message.rstrip(".")
        self.since = since
        self.expected_removal = expected_removal or (since[0] + 1, 0)

    def __str__(self) -> str:
        (major, minor), (gone_major, gone_minor) = self.since, self.expected_removal
        return (
            f"{self.message}. Deprecated in LangGraph V{major}.{minor}"
            f" to be removed in V{gone_major}.{gone_minor}."
        )


class LangGraphDeprecatedSinceV05(LangGraphDeprecationWarning):
    """Deprecated since LangGraph 0.5 (to be removed in 2.0)."""

    def __init__(self, message: str, *args: object) -> None:
        super().__init__(message, *args, since=(0, 5), expected_removal=(2, 0))


class LangGraphDeprecatedSinceV10(LangGraphDeprecationWarning):
    """Deprecated since LangGraph 1.0 (to be removed in 2.0)."""

    def __init__(self, message: str, *args: object) -> None:
        super().__init__(message, *args, since=(1, 0), expected_removal=(2, 0))


class LangGraphDeprecatedSinceV11(LangGraphDeprecationWarning):
    """Deprecated since LangGraph 1.1 (to be removed in 3.0)."""

    def __init__(self, message: str, *args: object) -> None:
        super().__init__(message, *args, since=(1, 1), expected_removal=(3, 0))
