"""The error tree: one base class, each leaf also the built-in callers expect."""

from __future__ import annotations

import asyncio
import inspect
import pickle

import pytest

from threadloom import errors


def _leaves() -> list[type[BaseException]]:
    return [
        obj
        for name, obj in vars(errors).items()
        if inspect.isclass(obj) and issubclass(obj, BaseException) and name in errors.__all__
    ]


_CONTROL_FLOW = (
    errors.GraphBubbleUp,
    errors.GraphInterrupt,
    errors.GraphDrained,
    errors.ParentCommand,
)


def test_every_public_error_derives_from_the_base_class() -> None:
    """Catching ThreadloomError catches every failure threadloom defines (control flow aside)."""
    for cls in _leaves():
        if cls not in _CONTROL_FLOW:
            assert issubclass(cls, errors.ThreadloomError), cls


def test_control_flow_signals_are_exceptions_outside_the_tree() -> None:
    """GraphBubbleUp and its subclasses are Exceptions but never ThreadloomErrors."""
    for cls in _CONTROL_FLOW:
        assert issubclass(cls, Exception)
        assert not issubclass(cls, errors.ThreadloomError), cls


@pytest.mark.parametrize(
    ("family", "members"),
    [
        (
            errors.StoreError,
            [
                errors.InvalidNamespaceError,
                errors.InvalidStoreInputError,
                errors.InvalidValueError,
                errors.InvalidFilterError,
                errors.IndexNotConfiguredError,
                errors.IndexConfigMismatchError,
                errors.EmbeddingError,
                errors.InvalidEmbedderError,
                errors.UnknownEmbeddingProviderError,
                errors.MemoryImportError,
                errors.MemoryNamespaceError,
                errors.MemoryNotFoundError,
            ],
        ),
        (
            errors.GraphError,
            [
                errors.GraphBuildError,
                errors.InvalidCheckpointerError,
                errors.InvalidUpdateError,
                errors.GraphRecursionError,
                errors.EmptyInputError,
                errors.MissingThreadIdError,
                errors.StoreNotConfiguredError,
                errors.CheckpointerNotConfiguredError,
                errors.SubgraphNotFoundError,
                errors.InvalidResumeError,
                errors.AmbiguousResumeError,
                errors.InvalidOptionError,
                errors.UnsupportedOptionError,
                errors.EmptyChannelError,
                errors.NodeTimeoutError,
                errors.StepTimeoutError,
                errors.NodeCancelledError,
            ],
        ),
        (
            errors.PersistenceError,
            [
                errors.CheckpointError,
                errors.CheckpointConflictError,
                errors.CheckpointNotFoundError,
                errors.InvalidCheckpointInputError,
                errors.SchemaVersionError,
                errors.DatabaseError,
                errors.ForeignDatabaseError,
                errors.ConnectionLostError,
                errors.InvalidConnectionError,
                errors.MigrationError,
            ],
        ),
        (
            errors.CheckpointError,
            [
                errors.CheckpointConflictError,
                errors.CheckpointNotFoundError,
                errors.InvalidCheckpointInputError,
            ],
        ),
        (errors.SerializationError, [errors.DecryptionError]),
        (errors.ServerError, [errors.ServerConfigError]),
    ],
)
def test_each_error_belongs_to_its_family(family: type, members: list[type]) -> None:
    """``except <Family>`` catches every error of that area, and only those."""
    for cls in members:
        assert issubclass(cls, family), cls
    others = [c for c in _leaves() if c not in members and c is not family]
    for cls in others:
        assert not issubclass(cls, family), f"{cls.__name__} is not a {family.__name__}"


def test_the_families_are_disjoint_branches_of_the_tree() -> None:
    """No error is in two families; SerializationError is a family of its own."""
    families = [
        errors.StoreError,
        errors.GraphError,
        errors.PersistenceError,
        errors.SerializationError,
        errors.ServerError,
    ]
    for cls in _leaves():
        if cls in _CONTROL_FLOW or cls is errors.ThreadloomError:
            continue
        assert sum(issubclass(cls, f) for f in families) == 1, cls


def test_recoverable_errors_carry_their_facts_as_attributes() -> None:
    """Attributes are keyword arguments next to the message, None when not given."""
    conflict = errors.CheckpointConflictError(
        "moved on", thread_id="t1", checkpoint_ns="", latest="c2", expected="c1"
    )
    assert (conflict.thread_id, conflict.latest, conflict.expected) == ("t1", "c2", "c1")
    assert str(conflict) == "moved on"
    newer = errors.SchemaVersionError("newer", found=5, known=3, component="store")
    assert (newer.found, newer.known, newer.component) == (5, 3, "store")
    bare = errors.SchemaVersionError("only a message")
    assert (bare.found, bare.known) == (None, None)
    assert errors.GraphRecursionError("limit", limit=7).limit == 7
    assert errors.InvalidResumeError("none", thread_id="t").thread_id == "t"
    ambiguous = errors.AmbiguousResumeError("two", thread_id="t")
    assert isinstance(ambiguous, RuntimeError) and isinstance(ambiguous, errors.InvalidResumeError)


def test_attributes_survive_pickling() -> None:
    """An error sent across processes keeps its message and attributes."""
    conflict = errors.CheckpointConflictError("moved on", thread_id="t1", latest="c2")
    copy = pickle.loads(pickle.dumps(conflict))
    assert type(copy) is errors.CheckpointConflictError
    assert (str(copy), copy.thread_id, copy.latest) == ("moved on", "t1", "c2")
    timeout = pickle.loads(pickle.dumps(errors.StepTimeoutError(1.5, ["slow"])))
    assert (timeout.timeout, timeout.nodes) == (1.5, ("slow",))
    assert "step_timeout=1.5s ('slow' still running)" in str(timeout)


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
        (errors.ServerConfigError, ValueError),
        (errors.StepTimeoutError, TimeoutError),
        (errors.StepTimeoutError, asyncio.TimeoutError),  # not the built-in one on Python 3.10
    ],
)
def test_leaves_subclass_the_expected_builtin(cls: type, builtin: type) -> None:
    """Callers that catch the built-in still catch our error."""
    assert issubclass(cls, builtin)


def test_store_reexports_the_namespace_error() -> None:
    """InvalidNamespaceError is importable from threadloom.store.base, as in LangGraph."""
    from threadloom.store.base import InvalidNamespaceError

    assert InvalidNamespaceError is errors.InvalidNamespaceError
