"""Loading stored rows: every failure becomes a SerializationError that says where the data sits.

Savers decode through these helpers. Whatever a serializer or a corrupt row
raises (RecursionError, OverflowError, KeyError, ...) leaves as a
:class:`~threadloom.errors.SerializationError`; :func:`stored_context` then adds
the thread, namespace and checkpoint. Database errors are left as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from threadloom.errors import SerializationError

__all__ = ["check_header", "check_metadata", "load_metadata", "load_value", "load_write", "stored_context"]


def load_value(serde: Any, data: tuple[str, bytes], what: str) -> Any:
    """``serde.loads_typed(data)``, any failure raised as a SerializationError naming ``what``."""
    try:
        return serde.loads_typed(data)
    except SerializationError as e:  # keep the kind (DecryptionError) and add where
        raise type(e)(f"{what}: {e}") from e
    except Exception as e:  # a third-party serializer, or a fault it does not catch
        raise SerializationError(f"{what}: {type(e).__name__}: {e}") from e


_VERSION = (int, float, str)


def check_header(header: Any) -> Any:
    """``header`` if it has the shape of a stored checkpoint (without its values); else SerializationError."""
    if type(header) is not dict:
        raise SerializationError(f"checkpoint header is a {type(header).__name__}, not an object")
    problems = []
    for key in ("id", "ts"):
        if type(header.get(key)) is not str:
            problems.append(f"{key!r} is not text")
    versions = header.get("channel_versions")
    if type(versions) is not dict or not _is_version_map(versions):
        problems.append("'channel_versions' is not a map of channel to version")
    seen = header.get("versions_seen")
    if type(seen) is not dict or not all(type(k) is str and type(v) is dict and _is_version_map(v) for k, v in seen.items()):
        problems.append("'versions_seen' is not a map of node to channel versions")
    updated = header.get("updated_channels")
    if updated is not None and (type(updated) is not list or not all(type(c) is str for c in updated)):
        problems.append("'updated_channels' is not a list of channel names")
    if problems:
        raise SerializationError("checkpoint header is corrupt: " + "; ".join(problems))
    return header


def _is_version_map(versions: dict[Any, Any]) -> bool:
    return all(type(k) is str and type(v) in _VERSION for k, v in versions.items())


def check_metadata(metadata: Any) -> Any:
    """``metadata`` if it is a dict with text keys; else SerializationError."""
    if type(metadata) is not dict or not all(type(k) is str for k in metadata):
        raise SerializationError(f"checkpoint metadata is a {type(metadata).__name__}, not an object with text keys")
    return metadata


def load_metadata(serde: Any, data: tuple[str, bytes]) -> Any:
    """Stored checkpoint metadata, checked to be an object."""
    return check_metadata(load_value(serde, data, "metadata"))


def load_write(serde: Any, task_id: str, channel: str, data: tuple[str, bytes]) -> tuple[str, str, Any]:
    """One stored pending write as ``(task_id, channel, value)``."""
    return task_id, channel, load_value(serde, data, f"pending write of task {task_id!r} to channel {channel!r}")


@contextmanager
def stored_context(thread_id: str, ns: str, checkpoint_id: str) -> Iterator[None]:
    """Prefix a SerializationError raised inside with the checkpoint's address."""
    try:
        yield
    except SerializationError as e:
        where = f"thread {thread_id!r}" + (f" (namespace {ns!r})" if ns else "")
        raise type(e)(f"cannot load checkpoint {checkpoint_id!r} of {where}: {e}") from e
