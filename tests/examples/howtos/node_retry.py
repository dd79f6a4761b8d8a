"""How-to: retry a failing node with a RetryPolicy given to add_node."""

from typing import TypedDict

from langgraph.graph import START, StateGraph
from langgraph.types import RetryPolicy

attempts: list[str] = []


class State(TypedDict):
    value: int


def flaky(state: State) -> dict:
    attempts.append("flaky")
    if len([a for a in attempts if a == "flaky"]) < 3:
        raise ValueError("try again")
    return {"value": state["value"] + 1}


def always_fails(state: State) -> dict:
    attempts.append("always_fails")
    raise ConnectionError("remote is down")


def never_retried(state: State) -> dict:
    attempts.append("never_retried")
    raise KeyError("bad input")


fast = {"initial_interval": 0.001, "backoff_factor": 1.0, "jitter": False}


def run_one(name: str, node, policy: RetryPolicy) -> None:
    """Run a one-node graph whose node has ``policy``; print its result or error and the attempts."""
    builder = StateGraph(State)
    builder.add_node(name, node, retry_policy=policy)
    builder.add_edge(START, name)
    attempts.clear()
    try:
        print(builder.compile().invoke({"value": 1}))
    except Exception as exc:
        print("raised:", type(exc).__name__, exc, getattr(exc, "__notes__", None))
    print(attempts)


run_one("flaky", flaky, RetryPolicy(max_attempts=5, retry_on=ValueError, **fast))
run_one("always_fails", always_fails, RetryPolicy(max_attempts=2, **fast))
# The default retry_on does not retry a KeyError.
run_one("never_retried", never_retried, RetryPolicy(max_attempts=3, **fast))
