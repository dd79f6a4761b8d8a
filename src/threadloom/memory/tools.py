"""Memory tools for agents: ``manage_memory`` (create, update, delete) and ``search_memory``.

Both are LangChain tools, so any tool-calling chat model can call them, in
``create_react_agent``, in a ``ToolNode`` or directly. Their namespace is a
template (``("memories", "{user_id}")``) filled from the config and context of
the run that calls them; their store is the one given, else the running
graph's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal, cast

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field, create_model

from threadloom.errors import InvalidStoreInputError
from threadloom.memory._store import resolve_store
from threadloom.memory.changes import MemoryChange, apply_changes
from threadloom.memory.dedup import DedupConfig
from threadloom.memory.history import search_memories
from threadloom.memory.namespace import NamespaceTemplate, current_config_and_context
from threadloom.store.base import BaseStore

__all__ = ["create_manage_memory_tool", "create_search_memory_tool"]

_ACTIONS: tuple[Literal["create", "update", "delete"], ...] = ("create", "update", "delete")

_MANAGE_DESCRIPTION = """Create, update or delete a persistent memory that lasts across \
conversations. Save what you learn about the user (preferences, facts, plans) and correct \
memories that are out of date: update a memory by its id rather than creating a second one, \
delete one that is no longer true. {instructions}"""

_SEARCH_DESCRIPTION = """Search your long-term memories for information relevant to the \
conversation. {instructions}"""


def create_manage_memory_tool(
    namespace: Sequence[str] | str,
    *,
    instructions: str = "",
    schema: type[Any] = str,
    actions_permitted: Sequence[Literal["create", "update", "delete"]] = _ACTIONS,
    store: BaseStore | None = None,
    name: str = "manage_memory",
    dedup: DedupConfig | None = None,
) -> StructuredTool:
    """A tool that creates, updates or deletes memories in ``namespace``.

    ``schema`` is ``str`` (free-text memories) or a pydantic model for
    structured memories. ``actions_permitted`` restricts what the model may do.
    Updates and deletes keep the previous version (see
    :mod:`threadloom.memory.history`); a create that duplicates an existing
    memory updates it instead (``dedup``).
    """
    template = NamespaceTemplate(namespace)
    actions = tuple(dict.fromkeys(actions_permitted))
    if not actions or any(action not in _ACTIONS for action in actions):
        raise InvalidStoreInputError(
            f"actions_permitted must be some of {_ACTIONS}, got {tuple(actions_permitted)!r}"
        )
    kind = (
        schema.__name__ if isinstance(schema, type) and issubclass(schema, BaseModel) else "Memory"
    )
    # Built at run time: the content type and the permitted actions are the caller's.
    fields: dict[str, Any] = {
        "content": (schema | None, Field(None, description="The memory; omit it to delete.")),
        "action": (Literal[actions], Field(actions[0], description="What to do.")),
        "id": (str | None, Field(None, description="The memory's id, to update or delete it.")),
    }
    args_schema = create_model("ManageMemory", **fields)

    def manage_memory(
        content: Any = None,
        action: str = actions[0],
        id: str | None = None,
        config: RunnableConfig = cast(RunnableConfig, None),
    ) -> str:
        if action not in actions:
            raise InvalidStoreInputError(
                f"Action {action!r} is not permitted; use one of {actions}"
            )
        if action in ("update", "delete") and not id:
            raise InvalidStoreInputError(f"Give the id of the memory to {action}")
        if action != "delete" and content is None:
            raise InvalidStoreInputError(f"Give the content of the memory to {action}")
        if action == "create" and id:
            raise InvalidStoreInputError(
                "Do not give an id to create a memory; use action='update'"
            )
        if isinstance(content, BaseModel):
            content = content.model_dump(mode="json")
        run_config, context = current_config_and_context(config)
        target = template.fill(run_config, context)
        change = MemoryChange(cast(Any, action), content, id, kind)
        (result,) = apply_changes(resolve_store(store), target, [change], dedup=dedup)
        if result.action == "create":
            return f"created memory {result.key}"
        if result.action == "delete":
            return f"deleted memory {result.key}"
        if result.deduplicated and result.action == "update":
            return f"updated memory {result.key} (it held a close version of this fact)"
        return f"{'updated' if result.action == 'update' else 'unchanged'} memory {result.key}"

    return StructuredTool.from_function(
        func=manage_memory,
        name=name,
        description=_MANAGE_DESCRIPTION.format(instructions=instructions).strip(),
        args_schema=args_schema,
    )


def create_search_memory_tool(
    namespace: Sequence[str] | str,
    *,
    instructions: str = "",
    store: BaseStore | None = None,
    name: str = "search_memory",
    response_format: Literal["content", "content_and_artifact"] = "content",
) -> StructuredTool:
    """A tool that searches the memories in ``namespace`` by meaning (or lists the newest).

    Superseded versions are left out unless the model asks with
    ``include_superseded=True``. With ``response_format="content_and_artifact"``
    the tool also returns the :class:`~threadloom.store.base.SearchItem` list
    as the tool message's artifact.
    """
    template = NamespaceTemplate(namespace)

    class SearchMemory(BaseModel):
        query: str = Field(description="What to look for, in natural language.")
        limit: int = Field(10, ge=1, le=100, description="Most results to return.")
        offset: int = Field(0, ge=0, description="Results to skip, for paging.")
        filter: dict[str, Any] | None = Field(None, description="Exact-match filter on values.")
        include_superseded: bool = Field(
            False, description="Also return facts that were later updated or deleted."
        )

    def search_memory(
        query: str,
        limit: int = 10,
        offset: int = 0,
        filter: dict[str, Any] | None = None,
        include_superseded: bool = False,
        config: RunnableConfig = cast(RunnableConfig, None),
    ) -> Any:
        run_config, context = current_config_and_context(config)
        target = template.fill(run_config, context)
        items = search_memories(
            resolve_store(store),
            target,
            query=query or None,
            filter=filter,
            limit=limit,
            offset=offset,
            include_superseded=include_superseded,
        )
        text = json.dumps([item.dict() for item in items], ensure_ascii=False)
        if response_format == "content_and_artifact":
            return text, items
        return text

    return StructuredTool.from_function(
        func=search_memory,
        name=name,
        description=_SEARCH_DESCRIPTION.format(instructions=instructions).strip(),
        args_schema=SearchMemory,
        response_format=response_format,
    )
