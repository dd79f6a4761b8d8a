"""Build graphs: :class:`StateGraph`, the ``START``/``END`` markers and chat-message state.

Example::

    from threadloom.graph import StateGraph, MessagesState, START

    def reply(state: MessagesState) -> dict:
        return {"messages": [("assistant", "hi!")]}

    builder = StateGraph(MessagesState)
    builder.add_node("reply", reply)
    builder.add_edge(START, "reply")
    out = builder.compile().invoke({"messages": [("user", "hello")]})
    assert out["messages"][-1].content == "hi!"
"""

from threadloom._engine._constants import END, START
from threadloom.graph.message import MessagesState, add_messages
from threadloom.graph.state import CompiledStateGraph, StateGraph

__all__ = ["END", "START", "CompiledStateGraph", "MessagesState", "StateGraph", "add_messages"]
