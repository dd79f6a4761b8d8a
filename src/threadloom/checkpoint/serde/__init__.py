"""Checkpoint serialization: typed JSON, no pickle, and loading that never runs stored choices.

:class:`JsonPlusSerializer` (also at ``threadloom.checkpoint.serde.jsonplus``) turns
a value into ``(type_tag, bytes)`` and back. Plain JSON values are stored as
themselves; every other supported type is a small tagged JSON object
(``{"__tl": "<kind>", ...}``), so a stored value can be inspected with any JSON tool.
:class:`~threadloom.checkpoint.serde.encrypted.EncryptedSerializer` wraps it with AES-GCM.

Supported: ``None``, ``bool``, ``int``, ``float`` (NaN and infinities too),
``str``, ``bytes``/``bytearray``, ``list``, ``tuple``, ``dict`` (any hashable
supported keys), ``set``, ``frozenset``, ``datetime``/``date``/``time`` (time
zones kept, ``zoneinfo`` names included), ``timedelta``, ``UUID``,
``Decimal``, enums, LangChain messages (every message and chunk class), pydantic
v2 models, dataclasses, ``NamedTuple``\\ s, threadloom's ``Send`` and ``MISSING``,
and any class given to :func:`register_type`. Anything else raises
:class:`~threadloom.errors.SerializationError` at write time, naming the type and
where it sits, e.g. ``value['messages'][3].additional_kwargs['fn']``. Nothing is
coerced silently: a tuple comes back a tuple, an ``int`` key stays an ``int`` (the
one exception: ``message.text``, langchain-core's callable ``str``, is stored as its text).

**Which class a stored name may load.** Only a class registered with
:func:`register_type`, or a class of the recorded kind (dataclass, pydantic model,
enum, named tuple) found in a module the program has *already imported*.
Loading never imports a module and never calls a function a blob names.

**How it is built (one rule for every kind).** A loaded object is built the way
your code builds it, from its declared fields only:

- dataclass: ``cls(**fields)`` with its ``__init__`` fields, so ``__post_init__`` runs;
- pydantic model and LangChain message: ``cls.model_validate(fields)``, so
  validators, defaults and ``model_post_init`` run (which fields were set, and
  declared private attributes, are then restored);
- named tuple: ``cls(*fields)``; enum: the member with the stored value (a
  ``Flag`` combination included; ``_missing_`` is never asked);
- registered with converters: ``from_data(value)``; ``Send``: ``Send(node, arg)``.

A stored field the class does not declare, a value its validators reject, or a
missing required field is a ``SerializationError``: a blob cannot set arbitrary
attributes, reach property setters or skip validation. A class whose
``__init__``/``__post_init__`` is not idempotent on its own fields should be
registered with ``to_data``/``from_data``.

**Bounded cost.** Loading is linear in the size of the blob: JSON nesting deeper
than 254 levels (orjson's own write limit) is refused on write and on load;
integers beyond 64 bits and ``Decimal`` text are at most 4300 digits; a stored
set, frozenset or non-string-keyed dict may hold at most 32 elements sharing one
hash (distinct values with equal hashes would make building it quadratic).

Example::

    from datetime import datetime, timezone
    from langchain_core.messages import AIMessage
    from threadloom.checkpoint.serde import JsonPlusSerializer

    serde = JsonPlusSerializer()
    value = {"at": datetime(2026, 1, 1, tzinfo=timezone.utc), "m": AIMessage("hi", id="1")}
    assert serde.loads_typed(serde.dumps_typed(value)) == value
"""

from threadloom.checkpoint.serde._registry import register_type
from threadloom.checkpoint.serde.base import SerializerProtocol
from threadloom.checkpoint.serde.jsonplus import JsonPlusSerializer

__all__ = [
    "JsonPlusSerializer",
    "SerializerProtocol",
    "register_type",
]
