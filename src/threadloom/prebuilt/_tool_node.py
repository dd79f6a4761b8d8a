"""ToolNode: run the tool calls of the last AI message, in parallel, and answer each one.

Input is the graph state (a dict or object with a ``messages`` key), a list
of messages, a list of tool calls, or one tool call sent with its state
(``Send("tools", ToolCallWithContext(...))``). Output is ``{"messages":
[ToolMessage, ...]}`` (a list for list input); tools that return ``Command``
make the output a list of commands.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from copy import copy, deepcopy
from dataclasses import replace
from typing import Any, Literal, cast

from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    RemoveMessage,
    ToolCall,
    ToolMessage,
    convert_to_messages,
)
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import get_config_list, get_executor_for_config
from langchain_core.tools import BaseTool
from langchain_core.tools import tool as as_tool
from langchain_core.tools.base import TOOL_MESSAGE_BLOCK_TYPES
from pydantic import ValidationError

from threadloom.errors import GraphBubbleUp
from threadloom.graph.message import REMOVE_ALL_MESSAGES
from threadloom.prebuilt._injection import InjectedArgs, ToolRuntime, injected_args_of
from threadloom.prebuilt._interceptors import (
    AsyncToolCallWrapper,
    ToolCallRequest,
    ToolCallWrapper,
)
from threadloom.prebuilt._runnable import NodeRunnable, current_runtime
from threadloom.prebuilt._tool_errors import (
    INVALID_TOOL_NAME_ERROR_TEMPLATE,
    ErrorHandler,
    ToolInvocationError,
    default_handle_tool_errors,
    error_content,
    filter_validation_errors,
    handled_types,
)
from threadloom.types import Command, Send

__all__ = ["ToolNode", "msg_content_output", "tools_condition"]

InputType = Literal["list", "dict", "tool_calls"]
Output = ToolMessage | Command[Any] | list[ToolMessage | Command[Any]]


def msg_content_output(output: Any) -> str | list[Any]:
    """A tool's return value as ``ToolMessage`` content: text or content blocks kept, else JSON."""
    if isinstance(output, str) or (
        isinstance(output, list)
        and all(isinstance(x, dict) and x.get("type") in TOOL_MESSAGE_BLOCK_TYPES for x in output)
    ):
        return output
    try:
        return json.dumps(output, ensure_ascii=False)
    except Exception:
        return str(output)


class ToolNode(NodeRunnable):
    """A graph node that executes the tool calls of the last ``AIMessage``.

    Example::

        from langchain_core.tools import tool

        @tool
        def add(a: int, b: int) -> int:
            \"\"\"Add two numbers.\"\"\"
            return a + b

        node = ToolNode([add])   # builder.add_node("tools", node)
    """

    def __init__(
        self,
        tools: Sequence[BaseTool | Callable[..., Any]],
        *,
        name: str = "tools",
        tags: list[str] | None = None,
        handle_tool_errors: ErrorHandler = default_handle_tool_errors,
        messages_key: str = "messages",
        wrap_tool_call: ToolCallWrapper | None = None,
        awrap_tool_call: AsyncToolCallWrapper | None = None,
    ) -> None:
        super().__init__(self._func, self._afunc, name=name)
        self.tags = tags
        self._tools_by_name: dict[str, BaseTool] = {}
        self._injected_args: dict[str, InjectedArgs] = {}
        self._handle_tool_errors = handle_tool_errors
        self._messages_key = messages_key
        self._wrap_tool_call = wrap_tool_call
        self._awrap_tool_call = awrap_tool_call
        for item in tools:
            tool_ = item if isinstance(item, BaseTool) else as_tool(item)
            self._tools_by_name[tool_.name] = tool_
            self._injected_args[tool_.name] = injected_args_of(tool_)

    @property
    def needs_state(self) -> bool:
        """Whether a tool (or an interceptor) reads the graph state of its call."""
        return (
            self._wrap_tool_call is not None
            or self._awrap_tool_call is not None
            or any(i.state or i.runtime for i in self._injected_args.values())
        )

    @property
    def tools_by_name(self) -> dict[str, BaseTool]:
        """The tools this node runs, by name."""
        return self._tools_by_name

    # --- the node bodies ------------------------------------------------------

    def _runtimes(
        self, input: Any, config: RunnableConfig, runtime: Any, calls: list[ToolCall]
    ) -> list[ToolRuntime[Any, Any]]:
        state = self._extract_state(input)
        tools = list(self._tools_by_name.values())
        return [
            ToolRuntime(
                state=state,
                tool_call_id=call["id"],
                config=cfg,
                context=getattr(runtime, "context", None),
                store=getattr(runtime, "store", None),
                stream_writer=getattr(runtime, "stream_writer", None) or _no_write,
                tools=tools,
                execution_info=getattr(runtime, "execution_info", None),
                server_info=getattr(runtime, "server_info", None),
            )
            for call, cfg in zip(calls, _configs(config, len(calls)), strict=False)
        ]

    def _func(self, input: Any, config: RunnableConfig, runtime: Any) -> Any:
        calls, input_type = self._parse_input(input)
        runtimes = self._runtimes(input, config, runtime, calls)
        if len(calls) == 1:
            # One call (always so in a v2 agent): no worker thread to start and join.
            outputs = [self._run_one(calls[0], input_type, runtimes[0])]
        else:
            with get_executor_for_config(config) as executor:
                types = [input_type] * len(calls)
                outputs = list(executor.map(self._run_one, calls, types, runtimes))
        return self._combine(outputs, input_type, in_graph=current_runtime(config)[1])

    async def _afunc(self, input: Any, config: RunnableConfig, runtime: Any) -> Any:
        calls, input_type = self._parse_input(input)
        runtimes = self._runtimes(input, config, runtime, calls)
        outputs = await asyncio.gather(
            *(self._arun_one(c, input_type, r) for c, r in zip(calls, runtimes, strict=False))
        )
        return self._combine(list(outputs), input_type, in_graph=current_runtime(config)[1])

    def _combine(self, outputs: list[Output], input_type: InputType, *, in_graph: bool) -> Any:
        flat: list[ToolMessage | Command[Any]] = []
        for output in outputs:
            flat.extend(output if isinstance(output, list) else [output])
        if not any(isinstance(o, Command) for o in flat):
            return flat if input_type == "list" else {self._messages_key: flat}
        combined: list[Any] = []
        parent: Command[Any] | None = None
        for output in flat:
            if isinstance(output, Command):
                goto = output.goto
                if (
                    output.graph == Command.PARENT
                    and isinstance(goto, list)
                    and all(isinstance(s, Send) for s in goto)
                ):
                    # Sends to the parent graph from several calls travel as one command.
                    if parent is None:
                        parent = Command(graph=Command.PARENT, goto=list(goto))
                    else:
                        parent = replace(parent, goto=[*cast("list[Send]", parent.goto), *goto])
                else:
                    combined.append(output)
            elif input_type == "list":
                combined.append([output])
            else:
                combined.append({self._messages_key: [output]})
        if parent is not None:
            combined.append(parent)
        if in_graph:
            # A graph applies a list of commands; plain updates ride along as commands.
            combined = [c if isinstance(c, Command) else Command(update=c) for c in combined]
        return combined

    # --- one call -------------------------------------------------------------

    def _request(self, call: ToolCall, runtime: ToolRuntime[Any, Any]) -> ToolCallRequest:
        return ToolCallRequest(
            tool_call=call,
            tool=self._tools_by_name.get(call["name"]),
            state=runtime.state,
            runtime=runtime,
        )

    def _error_message(self, e: Exception, call: ToolCall) -> ToolMessage:
        return ToolMessage(
            content=error_content(e, self._handle_tool_errors),
            name=call["name"],
            tool_call_id=call["id"],
            status="error",
        )

    def _handles(self, e: Exception) -> bool:
        flag = self._handle_tool_errors
        return bool(flag) and isinstance(e, handled_types(flag))

    def _prepare(self, request: ToolCallRequest) -> tuple[BaseTool | None, Any]:
        """The tool and its input, or ``(None, error message)`` for an unknown tool."""
        call, tool = request.tool_call, request.tool
        if tool is None:
            invalid = self._invalid_tool_message(call)
            if invalid is not None:
                return None, invalid
            raise TypeError(f"Tool {call['name']} is not registered with ToolNode")
        injected = self.inject_tool_args(call, request.runtime, tool)
        return tool, {**injected, "type": "tool_call"}

    def _invocation_error(self, exc: ValidationError, call: ToolCall) -> ToolInvocationError:
        filtered = filter_validation_errors(exc, self._injected_args.get(call["name"]))
        return ToolInvocationError(call["name"], exc, call["args"], filtered)

    def _execute(self, request: ToolCallRequest, input_type: InputType) -> Output:
        call = request.tool_call
        tool, tool_input = self._prepare(request)
        if tool is None:
            return cast("ToolMessage", tool_input)
        try:
            try:
                response = tool.invoke(tool_input, request.runtime.config)
            except ValidationError as exc:
                raise self._invocation_error(exc, call) from exc
            return self._normalize(response, call, input_type)
        except GraphBubbleUp:
            raise
        except Exception as e:
            if not self._handles(e):
                raise
            return self._error_message(e, call)

    async def _aexecute(self, request: ToolCallRequest, input_type: InputType) -> Output:
        call = request.tool_call
        tool, tool_input = self._prepare(request)
        if tool is None:
            return cast("ToolMessage", tool_input)
        try:
            try:
                response = await tool.ainvoke(tool_input, request.runtime.config)
            except ValidationError as exc:
                raise self._invocation_error(exc, call) from exc
            return self._normalize(response, call, input_type)
        except GraphBubbleUp:
            raise
        except Exception as e:
            if not self._handles(e):
                raise
            return self._error_message(e, call)

    def _run_one(
        self, call: ToolCall, input_type: InputType, runtime: ToolRuntime[Any, Any]
    ) -> Output:
        request = self._request(call, runtime)
        if self._wrap_tool_call is None:
            return self._execute(request, input_type)
        try:
            return self._wrap_tool_call(request, lambda r: self._execute(r, input_type))  # type: ignore[arg-type,return-value]  # a wrapper may return lists too
        except GraphBubbleUp:
            raise
        except Exception as e:
            if not self._handle_tool_errors:
                raise
            return self._error_message(e, request.tool_call)

    async def _arun_one(
        self, call: ToolCall, input_type: InputType, runtime: ToolRuntime[Any, Any]
    ) -> Output:
        request = self._request(call, runtime)
        if self._awrap_tool_call is None and self._wrap_tool_call is None:
            return await self._aexecute(request, input_type)

        async def execute(r: ToolCallRequest) -> Any:
            return await self._aexecute(r, input_type)

        try:
            if self._awrap_tool_call is not None:
                return await self._awrap_tool_call(request, execute)
            wrap = cast("ToolCallWrapper", self._wrap_tool_call)
            return wrap(request, lambda r: self._execute(r, input_type))  # type: ignore[arg-type,return-value]  # as above
        except GraphBubbleUp:
            raise
        except Exception as e:
            if not self._handle_tool_errors:
                raise
            return self._error_message(e, request.tool_call)

    # --- input and injection --------------------------------------------------

    def _parse_input(self, input: Any) -> tuple[list[ToolCall], InputType]:
        messages: Any
        if isinstance(input, list):
            if input and isinstance(input[-1], dict) and input[-1].get("type") == "tool_call":
                return cast("list[ToolCall]", input), "tool_calls"
            input_type: InputType = "list"
            messages = input
        elif isinstance(input, dict) and input.get("__type") == "tool_call_with_context":
            return [input["tool_call"]], "tool_calls"
        elif (isinstance(input, dict) and (messages := input.get(self._messages_key, []))) or (
            messages := getattr(input, self._messages_key, [])
        ):
            input_type = "dict"
        else:
            raise ValueError("No message found in input")
        last_ai = next((m for m in reversed(messages) if isinstance(m, AIMessage)), None)
        if last_ai is None:
            raise ValueError("No AIMessage found in input")
        return list(last_ai.tool_calls), input_type

    def _extract_state(self, input: Any) -> Any:
        if isinstance(input, dict) and input.get("__type") == "tool_call_with_context":
            return input["state"]
        if (
            input
            and isinstance(input, list)
            and isinstance(input[-1], dict)
            and input[-1].get("type") == "tool_call"
        ):
            return {}  # bare tool calls carry no state
        return input

    def _invalid_tool_message(self, call: ToolCall) -> ToolMessage | None:
        if call["name"] in self._tools_by_name:
            return None
        content = INVALID_TOOL_NAME_ERROR_TEMPLATE.format(
            requested_tool=call["name"], available_tools=", ".join(self._tools_by_name)
        )
        return ToolMessage(content, name=call["name"], tool_call_id=call["id"], status="error")

    def inject_tool_args(
        self, tool_call: ToolCall, tool_runtime: ToolRuntime[Any, Any], tool: BaseTool | None = None
    ) -> ToolCall:
        """``tool_call`` with its injected arguments (state, store, runtime) filled in."""
        name = tool_call["name"]
        injected = self._injected_args.get(name)
        if not injected and tool is not None and tool is not self._tools_by_name.get(name):
            # A tool this node does not hold (a wrapper's override): read its own schema.
            injected = injected_args_of(tool)
        if not injected:
            return tool_call
        values: dict[str, Any] = {}
        if injected.state:
            values.update(self._state_values(tool_call, tool_runtime.state, injected))
        if injected.store:
            if tool_runtime.store is None:
                raise ValueError(
                    "Cannot inject store into tools with InjectedStore annotations - "
                    "please compile your graph with a store."
                )
            values[injected.store] = tool_runtime.store
        if injected.runtime:
            values[injected.runtime] = tool_runtime
        call = copy(tool_call)
        kept = {k: v for k, v in call["args"].items() if k not in injected.all_injected_keys}
        call["args"] = {**kept, **values}
        return call

    _inject_tool_args = inject_tool_args

    def _state_values(self, call: ToolCall, state: Any, injected: InjectedArgs) -> dict[str, Any]:
        wanted = list(injected.state.values())
        if isinstance(state, list):
            if (wanted == [self._messages_key]) or wanted[0] is None:
                state = {self._messages_key: state}
            else:
                msg = f"Invalid input to ToolNode. Tool {call['name']} requires graph state dict as input."
                if any(wanted):
                    msg += f" State should contain fields {', '.join(f for f in wanted if f)}."
                raise ValueError(msg)
        values: dict[str, Any] = {}
        for arg, key in injected.state.items():
            if not key:
                values[arg] = state
            elif isinstance(state, dict):
                if key in state:
                    values[arg] = state[key]
                elif arg not in injected.optional_state_args:
                    raise KeyError(key)
            elif hasattr(state, key):
                values[arg] = getattr(state, key)
            elif arg not in injected.optional_state_args:
                raise AttributeError(key)
        return values

    # --- what a tool returned -------------------------------------------------

    def _normalize(self, response: Any, call: ToolCall, input_type: InputType) -> Output:
        if isinstance(response, Command):
            return self._check_command(response, call, input_type)
        if isinstance(response, ToolMessage):
            response.content = msg_content_output(response.content)
            return response
        if isinstance(response, list):
            if all(isinstance(r, (Command, ToolMessage)) for r in response):
                return self._check_list(response, call, input_type)
            raise TypeError(
                f"Tool {call['name']} returned a list with invalid element types: "
                "expected all Command or ToolMessage"
            )
        raise TypeError(f"Tool {call['name']} returned unexpected type: {type(response)}")

    def _check_list(
        self, response: list[Any], call: ToolCall, input_type: InputType
    ) -> list[ToolMessage | Command[Any]]:
        expected = call["id"]
        answers = 0
        for item in response:
            if isinstance(item, ToolMessage):
                answers += item.tool_call_id == expected
            elif isinstance(item, Command) and isinstance(item.update, dict):
                answers += sum(
                    isinstance(m, ToolMessage) and m.tool_call_id == expected
                    for m in item.update.get(self._messages_key, [])
                )
        if answers != 1:
            raise ValueError(
                f"Tool {call['name']} returned a list with {answers} messages bound to "
                f"tool_call_id {expected!r}; expected exactly one terminating ToolMessage."
            )
        checked: list[ToolMessage | Command[Any]] = []
        for item in response:
            if isinstance(item, Command):
                checked.append(self._check_command(item, call, input_type, require_answer=False))
            else:
                item.content = msg_content_output(item.content)
                checked.append(item)
        return checked

    def _check_command(
        self,
        command: Command[Any],
        call: ToolCall,
        input_type: InputType,
        *,
        require_answer: bool = True,
    ) -> Command[Any]:
        if isinstance(command.update, dict):
            if input_type not in ("dict", "tool_calls"):
                raise ValueError(
                    "Tools can provide a dict in Command.update only when using dict "
                    f"with '{self._messages_key}' key as ToolNode input, "
                    f"got: {command.update} for tool '{call['name']}'"
                )
            checked = deepcopy(command)
            messages = (checked.update or {}).get(self._messages_key, [])
        elif isinstance(command.update, list):
            if input_type != "list":
                raise ValueError(
                    "Tools can provide a list of messages in Command.update only when using "
                    f"list of messages as ToolNode input, got: {command.update} "
                    f"for tool '{call['name']}'"
                )
            checked = deepcopy(command)
            messages = checked.update
        else:
            return command
        messages = convert_to_messages(messages)
        if messages == [RemoveMessage(id=REMOVE_ALL_MESSAGES)]:
            return checked
        answered = False
        for message in messages:
            if isinstance(message, ToolMessage) and message.tool_call_id == call["id"]:
                message.name = call["name"]
                answered = True
        if require_answer and checked.graph is None and not answered:
            example = (
                '`Command(update={"messages": [ToolMessage("Success", tool_call_id=tool_call_id), ...]}, ...)`'
                if input_type == "dict"
                else '`Command(update=[ToolMessage("Success", tool_call_id=tool_call_id), ...], ...)`'
            )
            raise ValueError(
                f"Expected to have a matching ToolMessage in Command.update for tool "
                f"'{call['name']}', got: {messages}. Every tool call (LLM requesting to call a "
                "tool) in the message history MUST have a corresponding ToolMessage. "
                f"You can fix it by modifying the tool to return {example}."
            )
        return checked


def _no_write(_: Any) -> None:
    return None


def _configs(config: RunnableConfig, count: int) -> list[RunnableConfig]:
    """One config per tool call. The node's config is already this call's own copy (the node
    ensured it), so a single call takes it as it is; several get a copy each."""
    return [config] if count == 1 else get_config_list(config, count)


def tools_condition(
    state: list[AnyMessage] | dict[str, Any] | Any, messages_key: str = "messages"
) -> Literal["tools", "__end__"]:
    """Route to ``"tools"`` when the last message asks for tool calls, else to the end.

    Example::

        builder.add_conditional_edges("agent", tools_condition)
    """
    if isinstance(state, list):
        last = state[-1]
    elif (isinstance(state, dict) and (messages := state.get(messages_key, []))) or (
        messages := getattr(state, messages_key, [])
    ):
        last = messages[-1]
    else:
        raise ValueError(f"No messages found in input state to tool_edge: {state}")
    if getattr(last, "tool_calls", None):
        return "tools"
    return "__end__"
