"""How-to: view and update a subgraph's state while it is interrupted."""

from typing import TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.types import interrupt


class State(TypedDict):
    foo: str


class SubState(TypedDict):
    foo: str
    bar: str


def sub_node_1(state: SubState) -> dict:
    return {"bar": "from sub_node_1"}


def weather_review(state: SubState) -> dict:
    answer = interrupt("approve the weather?")
    return {"foo": state["foo"] + " | " + answer + " | " + state["bar"]}


sub_builder = StateGraph(SubState)
sub_builder.add_node(sub_node_1)
sub_builder.add_node(weather_review)
sub_builder.add_edge(START, "sub_node_1")
sub_builder.add_edge("sub_node_1", "weather_review")
subgraph = sub_builder.compile()


def router(state: State) -> dict:
    return {"foo": state["foo"] + " routed"}


builder = StateGraph(State)
builder.add_node(router)
builder.add_node("weather_graph", subgraph)
builder.add_edge(START, "router")
builder.add_edge("router", "weather_graph")
graph = builder.compile(checkpointer=InMemorySaver())

config = {"configurable": {"thread_id": "1"}}
for namespace, chunk in graph.stream({"foo": "sf"}, config, subgraphs=True):
    print([part.split(":")[0] for part in namespace], chunk)

state = graph.get_state(config)
print("parent next:", state.next, state.values)
print("task state is a config:", sorted(state.tasks[0].state["configurable"]))
print(
    "checkpoint_ns starts with node name:",
    state.tasks[0].state["configurable"]["checkpoint_ns"].split(":")[0],
)

state = graph.get_state(config, subgraphs=True)
sub_state = state.tasks[0].state
print("subgraph next:", sub_state.next, sub_state.values)
print("subgraph tasks:", [(t.name, [i.value for i in t.interrupts]) for t in sub_state.tasks])
print("subgraph step:", sub_state.metadata["step"], sub_state.metadata["source"])

# Change the subgraph's private key while it waits, then resume.
graph.update_state(sub_state.config, {"bar": "edited bar"})
edited = graph.get_state(config, subgraphs=True).tasks[0].state
print("after update:", edited.next, edited.values)
print("sub history:", len(list(graph.get_state_history(sub_state.config))))

from langgraph.types import Command  # noqa: E402

for namespace, chunk in graph.stream(Command(resume="yes"), config, subgraphs=True):
    print([part.split(":")[0] for part in namespace], chunk)
final = graph.get_state(config)
print("final:", final.next, final.values, final.tasks)
