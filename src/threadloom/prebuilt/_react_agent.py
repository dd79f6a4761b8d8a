"""create_react_agent: a model that calls tools in a loop until it answers.

The graph: ``[pre_model_hook] -> agent -> [post_model_hook] -> tools -> ...``
ending when the model replies without tool calls (then, with
``response_format``, one more model call fills ``structured_response``).
``version="v1"`` runs all tool calls of a message in one ``tools`` task;
``"v2"`` (the default) sends each call to its own task.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal, get_type_hints

from langchain_core.messages import AIMessage, AnyMessage, SystemMessage, ToolMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import BaseTool
from pydantic import BaseModel

from threadloom.graph import END, StateGraph
from threadloom.graph.state import CompiledStateGraph
from threadloom.prebuilt._agent_model import (
    HistoryCheck,
    Prompt,
    get_model,
    get_prompt_runnable,
    get_state_value,
    init_model,
    prompt_function,
    should_bind_tools,
)
from threadloom.prebuilt._agent_state import (
    AgentState,
    AgentStateWithStructuredResponse,
    StructuredResponseSchema,
)
from threadloom.prebuilt._runnable import NodeRunnable, callbacks_silent
from threadloom.prebuilt._tool_node import ToolNode
from threadloom.types import Send
from threadloom.warnings import LangGraphDeprecatedSinceV10

__all__ = ["create_react_agent", "create_tool_calling_executor"]

NEED_MORE_STEPS = "Sorry, need more steps to process this request."


class _Agent:
    """The pieces a built agent's nodes share: the model, prompt, tools and options."""

    def __init__(
        self,
        model: Any,
        tool_classes: list[BaseTool],
        builtin_tools: list[dict[str, Any]],
        prompt: Prompt | None,
        response_format: Any,
        state_schema: Any,
        uses_pre_hook: bool,
        name: str | None,
    ) -> None:
        self.prompt = prompt
        self.response_format = response_format
        self.state_schema = state_schema
        self.uses_pre_hook = uses_pre_hook
        self.name = name
        self.return_direct = {t.name for t in tool_classes if t.return_direct}
        self.check_history = HistoryCheck()
        self.dynamic = not isinstance(model, (str, Runnable)) and callable(model)
        self.async_dynamic = self.dynamic and inspect.iscoroutinefunction(model)
        self.model = model
        self.static: Runnable[Any, Any] | None = None
        # A static model under a plain prompt: the prompt function and the bound model, which
        # an untraced call runs directly (the sequence around them shows only to callbacks).
        self.direct: tuple[Callable[[Any], Any], Runnable[Any, Any]] | None = None
        if not self.dynamic:
            if isinstance(model, str):
                model = init_model(model)
            tools: list[Any] = [*tool_classes, *builtin_tools]
            if tools and should_bind_tools(model, tool_classes, num_builtin=len(builtin_tools)):
                model = model.bind_tools(tools)
            self.static = get_prompt_runnable(prompt) | model
            fn = prompt_function(prompt)
            if fn is not None:
                self.direct = (fn, model)

    # --- the model for this call ----------------------------------------------

    def _check_sync(self) -> None:
        if self.async_dynamic:
            raise RuntimeError(
                "Async model callable provided but agent invoked synchronously. Use "
                "agent.ainvoke() or agent.astream(), or provide a sync model callable."
            )

    def resolve(self, state: Any, runtime: Any) -> Runnable[Any, Any]:
        if self.static is not None:
            return self.static
        return get_prompt_runnable(self.prompt) | self.model(state, runtime)

    async def aresolve(self, state: Any, runtime: Any) -> Runnable[Any, Any]:
        if self.async_dynamic:
            return get_prompt_runnable(self.prompt) | await self.model(state, runtime)
        return self.resolve(state, runtime)

    # --- the "agent" node ------------------------------------------------------

    def model_input(self, state: Any) -> Any:
        messages = get_state_value(state, "messages")
        if self.uses_pre_hook:
            messages = get_state_value(state, "llm_input_messages") or messages
        if messages is None:
            key = "'llm_input_messages' or 'messages'" if self.uses_pre_hook else "'messages'"
            raise ValueError(f"Expected input to call_model to have {key} key, but got {state}")
        self.check_history(messages)
        # A copy: the node's input may be shared with the run's other readers.
        if isinstance(state, BaseModel):
            return state.model_copy(update={"messages": messages})
        return {**state, "messages": messages}

    def _reply(self, state: Any, response: Any) -> dict[str, Any]:
        response.name = self.name
        if self._needs_more_steps(state, response):
            return {"messages": [AIMessage(id=response.id, content=NEED_MORE_STEPS)]}
        return {"messages": [response]}

    def _needs_more_steps(self, state: Any, response: Any) -> bool:
        if not isinstance(response, AIMessage):
            return False
        remaining = get_state_value(state, "remaining_steps")
        if remaining is None:
            return False
        all_direct = all(c["name"] in self.return_direct for c in response.tool_calls)
        if remaining < 1 and all_direct:
            return True
        return remaining < 2 and bool(response.tool_calls)

    def call_model(self, state: Any, config: RunnableConfig, runtime: Any) -> dict[str, Any]:
        self._check_sync()
        model_input = self.model_input(state)
        if self.direct is not None and callbacks_silent(config):
            fn, model = self.direct
            return self._reply(state, model.invoke(fn(model_input), config))
        return self._reply(state, self.resolve(state, runtime).invoke(model_input, config))

    async def acall_model(self, state: Any, config: RunnableConfig, runtime: Any) -> dict[str, Any]:
        model_input = self.model_input(state)
        if self.direct is not None and callbacks_silent(config):
            fn, bound = self.direct
            return self._reply(state, await bound.ainvoke(fn(model_input), config))
        model = await self.aresolve(state, runtime)
        return self._reply(state, await model.ainvoke(model_input, config))

    # --- the "generate_structured_response" node ------------------------------

    def _structured_input(self, state: Any) -> tuple[list[Any], Any]:
        messages = list(get_state_value(state, "messages"))
        schema = self.response_format
        if isinstance(schema, tuple):
            system, schema = schema
            messages = [SystemMessage(content=system), *messages]
        return messages, schema

    def structured(self, state: Any, config: RunnableConfig, runtime: Any) -> dict[str, Any]:
        self._check_sync()
        messages, schema = self._structured_input(state)
        model = get_model(self.resolve(state, runtime)).with_structured_output(schema)
        return {"structured_response": model.invoke(messages, config)}

    async def astructured(self, state: Any, config: RunnableConfig, runtime: Any) -> dict[str, Any]:
        messages, schema = self._structured_input(state)
        model = get_model(await self.aresolve(state, runtime)).with_structured_output(schema)
        return {"structured_response": await model.ainvoke(messages, config)}


def _check_state_schema(state_schema: Any, response_format: Any) -> None:
    required = {"messages", "remaining_steps"}
    if response_format is not None:
        required.add("structured_response")
    missing = required - set(get_type_hints(state_schema))
    if missing:
        raise ValueError(f"Missing required key(s) {missing} in state_schema")


def _model_input_schema(state_schema: Any) -> Any:
    """The agent node's input when a pre-model hook may set ``llm_input_messages``."""
    if isinstance(state_schema, type) and issubclass(state_schema, BaseModel):
        from pydantic import create_model

        return create_model(
            "CallModelInputSchema",
            llm_input_messages=(list[AnyMessage], ...),
            __base__=state_schema,
        )

    class CallModelInputSchema(state_schema):  # a TypedDict subclass
        llm_input_messages: list[AnyMessage]

    return CallModelInputSchema


def create_react_agent(
    model: Any,
    tools: Sequence[BaseTool | Callable[..., Any] | dict[str, Any]] | ToolNode,
    *,
    prompt: Prompt | None = None,
    response_format: StructuredResponseSchema | tuple[str, StructuredResponseSchema] | None = None,
    pre_model_hook: Any = None,
    post_model_hook: Any = None,
    state_schema: Any = None,
    context_schema: Any = None,
    checkpointer: Any = None,
    store: Any = None,
    interrupt_before: list[str] | None = None,
    interrupt_after: list[str] | None = None,
    debug: bool = False,
    version: Literal["v1", "v2"] = "v2",
    name: str | None = None,
    **deprecated_kwargs: Any,
) -> CompiledStateGraph:
    """A compiled graph that calls ``model``, runs the tools it asks for, and loops.

    ``model`` is a chat model, a ``"provider:model"`` string, or a function
    ``(state, runtime) -> model`` that picks one per call (sync or async).
    ``prompt`` is a system prompt, or a function/runnable from state to model input.
    ``response_format`` adds a final ``structured_response``.

    Example::

        agent = create_react_agent(model, [search], prompt="Be brief.")
        agent.invoke({"messages": [("user", "what's new?")]})
    """
    if "config_schema" in deprecated_kwargs:
        warnings.warn(
            "`config_schema` is deprecated and will be removed. Please use `context_schema` instead.",
            LangGraphDeprecatedSinceV10,
            stacklevel=2,
        )
        legacy = deprecated_kwargs.pop("config_schema")
        context_schema = context_schema if context_schema is not None else legacy
    if deprecated_kwargs:
        raise TypeError(
            f"create_react_agent() got unexpected keyword arguments: {deprecated_kwargs}"
        )
    if version not in ("v1", "v2"):
        raise ValueError(f"Invalid version {version}. Supported versions are 'v1' and 'v2'.")
    if state_schema is not None:
        _check_state_schema(state_schema, response_format)
    else:
        state_schema = (
            AgentStateWithStructuredResponse if response_format is not None else AgentState
        )

    builtin_tools: list[dict[str, Any]] = []
    if isinstance(tools, ToolNode):
        tool_node = tools
    else:
        builtin_tools = [t for t in tools if isinstance(t, dict)]
        tool_node = ToolNode([t for t in tools if not isinstance(t, dict)])
    tool_classes = list(tool_node.tools_by_name.values())
    agent = _Agent(
        model,
        tool_classes,
        builtin_tools,
        prompt,
        response_format,
        state_schema,
        pre_model_hook is not None,
        name,
    )
    input_schema = _model_input_schema(state_schema) if pre_model_hook is not None else state_schema

    workflow = StateGraph(state_schema, context_schema=context_schema)
    workflow.add_node(
        "agent",
        NodeRunnable(agent.call_model, agent.acall_model, name="agent"),
        input_schema=input_schema,
    )
    entry = "agent"
    if pre_model_hook is not None:
        workflow.add_node("pre_model_hook", pre_model_hook)
        workflow.add_edge("pre_model_hook", "agent")
        entry = "pre_model_hook"
    workflow.set_entry_point(entry)
    if post_model_hook is not None:
        workflow.add_node("post_model_hook", post_model_hook)
        workflow.add_edge("agent", "post_model_hook")
    if response_format is not None:
        workflow.add_node(
            "generate_structured_response",
            NodeRunnable(agent.structured, agent.astructured, name="generate_structured_response"),
        )
    compile_args: dict[str, Any] = {
        "checkpointer": checkpointer,
        "store": store,
        "interrupt_before": interrupt_before,
        "interrupt_after": interrupt_after,
        "debug": debug,
        "name": name,
    }
    # Explicit edges to END, so that get_graph() shows where the run finishes.
    if response_format is not None:
        workflow.add_edge("generate_structured_response", END)
    if not tool_classes:
        last = "post_model_hook" if post_model_hook is not None else "agent"
        workflow.add_edge(last, "generate_structured_response" if response_format else END)
        return workflow.compile(**compile_args)

    workflow.add_node("tools", tool_node)
    _add_routing(workflow, agent, tool_node, entry, version, post_model_hook is not None)
    return workflow.compile(**compile_args)


def _tool_sends(calls: list[Any], state: Any, with_state: bool) -> list[Send]:
    # A Send is saved with the step's checkpoint: carrying the whole state when
    # no tool reads it would make every tool step cost O(history).
    context = state if with_state else {}
    return [
        Send("tools", {"__type": "tool_call_with_context", "tool_call": call, "state": context})
        for call in calls
    ]


def _add_routing(
    workflow: StateGraph,
    agent: _Agent,
    tool_node: ToolNode,
    entry: str,
    version: str,
    has_post_hook: bool,
) -> None:
    """The conditional edges between the agent, the hooks and the tools."""
    with_state = tool_node.needs_state
    after_answer = "generate_structured_response" if agent.response_format is not None else END

    def should_continue(state: Any) -> Any:
        last = get_state_value(state, "messages")[-1]
        if not isinstance(last, AIMessage) or not last.tool_calls:
            return after_answer
        if version == "v1":
            return "tools"
        return _tool_sends(last.tool_calls, state, with_state)

    def post_model_hook_router(state: Any) -> Any:
        messages = get_state_value(state, "messages")
        answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
        last_ai = next(m for m in reversed(messages) if isinstance(m, AIMessage))
        pending = [c for c in last_ai.tool_calls if c["id"] not in answered]
        if pending:
            return _tool_sends(pending, state, with_state)
        if isinstance(messages[-1], ToolMessage):
            return entry
        return after_answer

    def route_tool_responses(state: Any) -> str:
        message: Any = None
        for message in reversed(get_state_value(state, "messages")):
            if not isinstance(message, ToolMessage):
                break
            if message.name in agent.return_direct:
                return END
        if isinstance(message, AIMessage) and any(
            c["name"] in agent.return_direct for c in message.tool_calls
        ):
            return END
        return entry

    if has_post_hook:
        workflow.add_conditional_edges(
            "post_model_hook", post_model_hook_router, [entry, "tools", after_answer]
        )
        # agent -> post_model_hook is a plain edge (added with the node).
    else:
        workflow.add_conditional_edges("agent", should_continue, ["tools", after_answer])
    if agent.return_direct:
        workflow.add_conditional_edges("tools", route_tool_responses, [entry, END])
    else:
        workflow.add_edge("tools", entry)


create_tool_calling_executor = create_react_agent
