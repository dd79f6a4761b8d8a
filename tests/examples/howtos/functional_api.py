"""How-to: the functional API: @entrypoint and @task with a checkpointer, interrupt and resume, previous."""

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.func import entrypoint, task
from langgraph.types import Command, interrupt

calls: list[str] = []


@task
def write_essay(topic: str) -> str:
    calls.append(topic)
    return f"An essay about {topic}"


@entrypoint(checkpointer=InMemorySaver())
def workflow(topic: str) -> dict:
    essay = write_essay(topic).result()
    is_approved = interrupt({"essay": essay, "action": "Please approve/reject the essay"})
    return {"essay": essay, "is_approved": is_approved}


config = {"configurable": {"thread_id": "essay"}}
for chunk in workflow.stream("cat", config):
    print(chunk)
state = workflow.get_state(config)
print("next:", state.next, "interrupts:", [i.value for i in state.interrupts])
for chunk in workflow.stream(Command(resume=True), config):
    print(chunk)
print("task calls:", calls)
print("final:", workflow.get_state(config).values)


@task
def add_one(number: int) -> int:
    return number + 1


@task
def double(number: int) -> int:
    return number * 2


@entrypoint(checkpointer=InMemorySaver())
def accumulate(number: int, *, previous: int | None = None) -> entrypoint.final[int, int]:
    total = (previous or 0) + number
    futures = [add_one(total), double(total)]
    results = [f.result() for f in futures]
    return entrypoint.final(value=results, save=total)


config = {"configurable": {"thread_id": "sum"}}
print(accumulate.invoke(1, config))
print(accumulate.invoke(2, config))
# add_one and double run in parallel, so which update arrives first is a race
# in any runtime; print them in a fixed order.
for chunk in sorted(accumulate.stream(3, config, stream_mode="updates"), key=str):
    print(chunk)
print("saved:", accumulate.get_state(config).values)
