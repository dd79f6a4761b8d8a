"""How-to: use subgraphs: shared state keys, private keys, a subgraph called from a node, streaming with subgraphs=True."""

from typing import TypedDict

from langgraph.graph import START, StateGraph


class SubgraphState(TypedDict):
    foo: str  # shared with the parent
    bar: str  # private to the subgraph


def subgraph_node_1(state: SubgraphState) -> dict:
    return {"bar": "bar"}


def subgraph_node_2(state: SubgraphState) -> dict:
    return {"foo": state["foo"] + state["bar"]}


sub_builder = StateGraph(SubgraphState)
sub_builder.add_node(subgraph_node_1)
sub_builder.add_node(subgraph_node_2)
sub_builder.add_edge(START, "subgraph_node_1")
sub_builder.add_edge("subgraph_node_1", "subgraph_node_2")
subgraph = sub_builder.compile()


class ParentState(TypedDict):
    foo: str


def node_1(state: ParentState) -> dict:
    return {"foo": "hi! " + state["foo"]}


builder = StateGraph(ParentState)
builder.add_node("node_1", node_1)
builder.add_node("node_2", subgraph)
builder.add_edge(START, "node_1")
builder.add_edge("node_1", "node_2")
graph = builder.compile()

print(graph.invoke({"foo": "foo"}))
for chunk in graph.stream({"foo": "foo"}):
    print(chunk)
for namespace, chunk in graph.stream({"foo": "foo"}, subgraphs=True):
    print([part.split(":")[0] for part in namespace], chunk)


# A subgraph with a different schema, called from inside a node.
class OtherState(TypedDict):
    name: str
    greeting: str


def greet(state: OtherState) -> dict:
    return {"greeting": "hello " + state["name"]}


other_builder = StateGraph(OtherState)
other_builder.add_node(greet)
other_builder.add_edge(START, "greet")
other = other_builder.compile()


def call_other(state: ParentState) -> dict:
    response = other.invoke({"name": state["foo"]})
    return {"foo": response["greeting"]}


builder = StateGraph(ParentState)
builder.add_node("node_1", node_1)
builder.add_node("call_other", call_other)
builder.add_edge(START, "node_1")
builder.add_edge("node_1", "call_other")
graph = builder.compile()
print(graph.invoke({"foo": "bob"}))
for namespace, chunk in graph.stream({"foo": "bob"}, stream_mode="updates", subgraphs=True):
    print(len(namespace), [part.split(":")[0] for part in namespace], chunk)
for namespace, chunk in graph.stream({"foo": "bob"}, stream_mode="values", subgraphs=True):
    print(len(namespace), chunk)
