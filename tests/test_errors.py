"""The error tree: one base class, each leaf also the built-in callers expect."""

from __future__ import annotations

import inspect

import pytest

from threadloom import errors


def _leaves() -> list[type[BaseException]]:
    return [
        obj
        for name, obj in vars(errors).items()
        if inspect.isclass(obj) and issubclass(obj, BaseException) and name in errors.__all__
    ]


def test_every_public_error_derives_from_the_base_class() -> None:
    """Catching ThreadloomError catches every error threadloom defines."""
    for cls in _leaves():
        assert issubclass(cls, errors.ThreadloomError), cls


def test_the_docstring_diagram_names_every_error() -> None:
    """The hierarchy drawn in the module docstring lists each public error."""
    doc = errors.__doc__ or ""
    for cls in _leaves():
        assert cls.__name__ in doc, f"{cls.__name__} missing from the diagram"


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.InvalidNamespaceError, ValueError),
        (errors.InvalidValueError, TypeError),
        (errors.InvalidFilterError, ValueError),
        (errors.EmbeddingError, ValueError),
        (errors.GraphRecursionError, RecursionError),
        (errors.InvalidUpdateError, ValueError),
        (errors.MissingThreadIdError, ValueError),
        (errors.EmptyChannelError, KeyError),
        (errors.SerializationError, TypeError),
        (errors.CheckpointNotFoundError, KeyError),
        (errors.InvalidCheckpointInputError, ValueError),
    ],
)
def test_leaves_subclass_the_expected_builtin(cls: type, builtin: type) -> None:
    """Callers that catch the built-in still catch our error."""
    assert issubclass(cls, builtin)


def test_store_reexports_the_namespace_error() -> None:
    """InvalidNamespaceError is importable from threadloom.store.base, as in LangGraph."""
    from threadloom.store.base import InvalidNamespaceError

    assert InvalidNamespaceError is errors.InvalidNamespaceError
