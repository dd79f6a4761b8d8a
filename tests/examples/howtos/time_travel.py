"""How-to: time travel: browse a thread's history, replay from a checkpoint, fork with update_state."""

from typing import TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph


class State(TypedDict):
    topic: str
    joke: str


def generate_topic(state: State) -> dict:
    return {"topic": state.get("topic") or "cats"}


def write_joke(state: State) -> dict:
    return {"joke": f"Why did the {state['topic']} cross the road?"}


builder = StateGraph(State)
builder.add_node("generate_topic", generate_topic)
builder.add_node("write_joke", write_joke)
builder.add_edge(START, "generate_topic")
builder.add_edge("generate_topic", "write_joke")
builder.add_edge("write_joke", END)
graph = builder.compile(checkpointer=InMemorySaver())

config = {"configurable": {"thread_id": "1"}}
print(graph.invoke({"topic": ""}, config))


def show_history() -> list:
    states = list(graph.get_state_history(config))
    print("history:", len(states))
    for state in states:
        print(" ", state.metadata["step"], state.metadata["source"], state.next, state.values)
    return states


states = show_history()

# Replay from the checkpoint just before write_joke ran.
before_joke = next(s for s in states if s.next == ("write_joke",))
print("replay from:", before_joke.next, before_joke.values)
print(graph.invoke(None, before_joke.config))
show_history()

# Fork: change the topic at that checkpoint, then run on from the fork.
fork_config = graph.update_state(before_joke.config, values={"topic": "chickens"})
print(
    "fork is a new checkpoint:",
    fork_config["configurable"]["checkpoint_id"]
    != before_joke.config["configurable"]["checkpoint_id"],
)
fork = graph.get_state(fork_config)
print("fork:", fork.next, fork.values, fork.metadata["source"], fork.metadata["step"])
print(graph.invoke(None, fork_config))
states = show_history()
print("latest:", graph.get_state(config).values)
print(
    "parent of latest is fork:",
    states[1].config["configurable"]["checkpoint_id"]
    == fork_config["configurable"]["checkpoint_id"],
)

# The state before the run started: step -1, the input, and next is __start__.
first = states[-1]
print("first:", first.metadata["step"], first.metadata["source"], first.next, first.values)
