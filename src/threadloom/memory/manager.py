"""The memory manager: a chat model decides what to remember, update or forget.

:func:`create_memory_manager` turns a conversation and the memories that
already exist into memory changes, with one structured-output call of any
LangChain chat model. :func:`create_memory_store_manager` adds the store:
it finds the related memories, asks the model, and applies the result
(with dedup and history) in one store batch. Use it as a function
(``manager.invoke({"messages": ...}, config)``) or as a graph node
(``builder.add_node("remember", manager)``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, convert_to_messages
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, Field, ValidationError

from threadloom.errors import IndexNotConfiguredError, InvalidStoreInputError
from threadloom.memory._store import resolve_store
from threadloom.memory.changes import AppliedChange, MemoryChange, apply_changes
from threadloom.memory.dedup import DedupConfig, content_text
from threadloom.memory.namespace import NamespaceTemplate, current_config_and_context
from threadloom.store.base import BaseStore

__all__ = [
    "DEFAULT_INSTRUCTIONS",
    "ExtractedMemory",
    "MemoryManager",
    "MemoryOperation",
    "MemoryOperations",
    "MemoryStoreManager",
    "create_memory_manager",
    "create_memory_store_manager",
]

logger = logging.getLogger(__name__)

DEFAULT_INSTRUCTIONS = """You maintain the long-term memory of an assistant about its user. \
Read the conversation and the existing memories. Insert a memory for each new durable fact, \
preference or plan; update an existing memory (by its id) when the conversation changes or \
refines it, instead of inserting a second one; delete a memory that is no longer true. Leave \
out small talk. Return no operations when nothing needs remembering."""


class MemoryOperation(BaseModel):
    """One operation the model asks for."""

    action: Literal["insert", "update", "delete"]
    id: str | None = Field(None, description="The existing memory's id (update, delete).")
    kind: str = Field("Memory", description="The memory's schema name.")
    content: Any = Field(None, description="The memory (insert, update).")


class MemoryOperations(BaseModel):
    """The model's answer: the operations to apply, possibly none."""

    operations: list[MemoryOperation] = Field(default_factory=list)


class ExtractedMemory(NamedTuple):
    """A memory the manager inserted, updated (``id`` of the existing one) or deleted."""

    id: str
    content: Any
    action: Literal["insert", "update", "delete"] = "insert"


Existing = Sequence[tuple[str, Any] | tuple[str, Any, str]]


class MemoryManager:
    """Extracts memory changes from messages with one structured-output model call."""

    def __init__(
        self,
        model: BaseChatModel,
        *,
        schemas: Sequence[type[Any]] = (str,),
        instructions: str = DEFAULT_INSTRUCTIONS,
        enable_inserts: bool = True,
        enable_updates: bool = True,
        enable_deletes: bool = False,
    ) -> None:
        if not schemas:
            raise InvalidStoreInputError("schemas needs at least one memory type (str or a model)")
        self.model = model
        self.schemas = {_kind(schema): schema for schema in schemas}
        self.instructions = instructions
        self.allowed = {
            action
            for action, enabled in (
                ("insert", enable_inserts),
                ("update", enable_updates),
                ("delete", enable_deletes),
            )
            if enabled
        }
        self._structured = model.with_structured_output(MemoryOperations)

    def plan(
        self,
        messages: Sequence[Any],
        existing: Existing = (),
        config: RunnableConfig | None = None,
    ) -> list[MemoryChange]:
        """The changes the model asks for, checked against the schemas and the enabled actions."""
        known = {entry[0] for entry in existing}
        prompt = self._prompt(convert_to_messages(messages), existing)
        answer = self._structured.invoke(prompt, config=config)
        # A model may answer with the schema's instance or with its dict form.
        operations = MemoryOperations.model_validate(
            answer.model_dump() if isinstance(answer, BaseModel) else answer
        ).operations
        changes = []
        for op in operations:
            change = self._check(op, known)
            if change is not None:
                changes.append(change)
        return changes

    def invoke(
        self, input: Mapping[str, Any], config: RunnableConfig | None = None
    ) -> list[ExtractedMemory]:
        """``{"messages": [...], "existing": [(id, content), ...]}`` to the extracted memories.

        Inserted memories get fresh ids; nothing is stored (see
        :func:`create_memory_store_manager` for a manager with a store).
        """
        changes = self.plan(input["messages"], input.get("existing", ()), config)
        return [
            ExtractedMemory(
                change.key or str(uuid.uuid4()),
                change.content,
                "insert" if change.action == "create" else change.action,
            )
            for change in changes
        ]

    def _prompt(self, messages: list[BaseMessage], existing: Existing) -> list[dict[str, str]]:
        lines = [f"[{entry[0]}] {content_text(entry[1])}" for entry in existing]
        kinds = ", ".join(
            f"{kind} (JSON fields: {', '.join(schema.model_fields)})"
            if isinstance(schema, type) and issubclass(schema, BaseModel)
            else f"{kind} (text)"
            for kind, schema in self.schemas.items()
        )
        system = (
            f"{self.instructions}\n\nMemory kinds: {kinds}.\n"
            f"Allowed actions: {', '.join(sorted(self.allowed))}.\n"
            "Existing memories (one per line, [id] content):\n"
            + ("\n".join(lines) if lines else "(none)")
        )
        transcript = "\n".join(f"{m.type}: {m.text}" for m in messages)
        return [
            {"role": "system", "content": system},
            {"role": "user", "content": f"The conversation:\n{transcript}"},
        ]

    def _check(self, op: MemoryOperation, known: set[str]) -> MemoryChange | None:
        """The change for ``op``, or ``None`` (logged) when the model asked for something invalid."""
        if op.action not in self.allowed:
            logger.warning("memory manager: dropped a %s, which is not enabled", op.action)
            return None
        if op.action != "insert" and op.id not in known:
            logger.warning("memory manager: dropped a %s of unknown memory %r", op.action, op.id)
            return None
        if op.action == "delete":
            return MemoryChange("delete", key=op.id, kind=op.kind)
        schema = self.schemas.get(op.kind) or (
            self.schemas["Memory"] if "Memory" in self.schemas and op.kind == "Memory" else None
        )
        if schema is None:
            logger.warning("memory manager: dropped a memory of unknown kind %r", op.kind)
            return None
        content = _validated(schema, op.content)
        if content is None:
            logger.warning("memory manager: dropped a %s memory that fails its schema", op.kind)
            return None
        action: Literal["create", "update"] = "create" if op.action == "insert" else "update"
        return MemoryChange(action, content, op.id if action == "update" else None, op.kind)


def _kind(schema: type[Any]) -> str:
    if schema is str:
        return "Memory"
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema.__name__
    raise InvalidStoreInputError(f"A memory schema is str or a pydantic model, got {schema!r}")


def _validated(schema: type[Any], content: Any) -> Any:
    if schema is str:
        return content.strip() if isinstance(content, str) and content.strip() else None
    try:
        return schema.model_validate(content).model_dump(mode="json")
    except ValidationError:
        return None


def create_memory_manager(
    model: BaseChatModel,
    *,
    schemas: Sequence[type[Any]] = (str,),
    instructions: str = DEFAULT_INSTRUCTIONS,
    enable_inserts: bool = True,
    enable_updates: bool = True,
    enable_deletes: bool = False,
) -> MemoryManager:
    """A manager that extracts memories from messages, given the existing ones."""
    return MemoryManager(
        model,
        schemas=schemas,
        instructions=instructions,
        enable_inserts=enable_inserts,
        enable_updates=enable_updates,
        enable_deletes=enable_deletes,
    )


class MemoryStoreManager:
    """A memory manager bound to a store namespace: search, ask the model, apply in one batch."""

    def __init__(
        self,
        manager: MemoryManager,
        *,
        namespace: Sequence[str] | str,
        query_limit: int,
        store: BaseStore | None,
        dedup: DedupConfig | None,
    ) -> None:
        if query_limit < 1:
            raise InvalidStoreInputError(f"query_limit must be at least 1, got {query_limit!r}")
        self.manager = manager
        self.namespace = NamespaceTemplate(namespace)
        self.query_limit = query_limit
        self.store = store
        self.dedup = dedup

    def invoke(self, input: Any, config: RunnableConfig | None = None) -> list[AppliedChange]:
        """Update the memories from ``input`` (``{"messages": [...]}`` or a list of messages)."""
        messages = input["messages"] if isinstance(input, Mapping) else input
        messages = convert_to_messages(messages)
        run_config, context = current_config_and_context(config)
        namespace = self.namespace.fill(run_config, context)
        store = resolve_store(self.store)
        related = self._related(store, namespace, messages)
        changes = self.manager.plan(messages, related, config=run_config)
        if not changes:
            return []
        return apply_changes(store, namespace, changes, dedup=self.dedup)

    async def ainvoke(
        self, input: Any, config: RunnableConfig | None = None
    ) -> list[AppliedChange]:
        """Async twin of :meth:`invoke` (runs it in a worker thread, as async stores require)."""
        run_config, _ = current_config_and_context(config)
        return await asyncio.to_thread(self.invoke, input, run_config)

    def with_store(self, store: BaseStore) -> MemoryStoreManager:
        """A copy of this manager that always uses ``store``."""
        return MemoryStoreManager(
            self.manager,
            namespace=self.namespace.template,
            query_limit=self.query_limit,
            store=store,
            dedup=self.dedup,
        )

    def __call__(self, state: Any, config: RunnableConfig) -> dict[str, Any]:
        """Run as a graph node: update the memories, leave the state as it is."""
        self.invoke(state, config)
        return {}

    def _related(
        self, store: BaseStore, namespace: tuple[str, ...], messages: list[BaseMessage]
    ) -> list[tuple[str, Any, str]]:
        """The stored memories most related to the recent conversation."""
        recent = [m.text for m in messages if m.type == "human"][-3:]
        query = "\n".join(recent) or None
        try:
            items = store.search(namespace, query=query, limit=self.query_limit)
        except IndexNotConfiguredError:
            items = store.search(namespace, limit=self.query_limit)
        return [
            (item.key, item.value.get("content"), str(item.value.get("kind", "Memory")))
            for item in items
            if item.namespace == namespace
        ]


def create_memory_store_manager(
    model: BaseChatModel,
    *,
    namespace: Sequence[str] | str = ("memories", "{user_id}"),
    schemas: Sequence[type[Any]] = (str,),
    instructions: str = DEFAULT_INSTRUCTIONS,
    enable_inserts: bool = True,
    enable_updates: bool = True,
    enable_deletes: bool = True,
    query_limit: int = 5,
    store: BaseStore | None = None,
    dedup: DedupConfig | None = None,
) -> MemoryStoreManager:
    """A manager that keeps the memories in ``namespace`` of the store up to date."""
    manager = create_memory_manager(
        model,
        schemas=schemas,
        instructions=instructions,
        enable_inserts=enable_inserts,
        enable_updates=enable_updates,
        enable_deletes=enable_deletes,
    )
    return MemoryStoreManager(
        manager, namespace=namespace, query_limit=query_limit, store=store, dedup=dedup
    )
