"""How-to: read snapshots in full: get_state (with subgraphs), each history entry, a subgraph's history."""

from typing import TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.types import Command, interrupt


class SubState(TypedDict):
    foo: str
    bar: str


def prepare(state: SubState) -> dict:
    return {"foo": state["foo"] + " prepared", "bar": "private"}


def review(state: SubState) -> dict:
    answer = interrupt("approve?")
    return {"foo": state["foo"] + " " + answer}


sub_builder = StateGraph(SubState)
sub_builder.add_node(prepare)
sub_builder.add_node(review)
sub_builder.add_edge(START, "prepare")
sub_builder.add_edge("prepare", "review")


class State(TypedDict):
    foo: str


def route(state: State) -> dict:
    return {"foo": state["foo"] + " routed"}


builder = StateGraph(State)
builder.add_node(route)
builder.add_node("sub", sub_builder.compile())
builder.add_edge(START, "route")
builder.add_edge("route", "sub")
graph = builder.compile(checkpointer=InMemorySaver())

config = {"configurable": {"thread_id": "1"}}
graph.invoke({"foo": "x"}, config)
print(graph.get_state(config))
state = graph.get_state(config, subgraphs=True)
print(state)
for snapshot in graph.get_state_history(config):
    print(snapshot)
for snapshot in graph.get_state_history(state.tasks[0].state.config):
    print(snapshot)
graph.invoke(Command(resume="yes"), config)
for snapshot in graph.get_state_history(config):
    print(snapshot)
