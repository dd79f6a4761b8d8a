"""How-to: semantic search over long-term memory, from the store and from an agent's tool."""

import math
from typing import Annotated

from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.prebuilt import InjectedStore, create_react_agent
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore
from scripted_chat import ScriptedChatModel, tool_call

WORDS = ["pizza", "food", "python", "code", "hike", "mountain"]


def embed(texts: list[str]) -> list[list[float]]:
    """A deterministic toy embedding: counts of a few keywords, normalised."""
    vectors = []
    for text in texts:
        # Each keyword weighs differently, so no two memories score (nearly) the same.
        counts = [text.lower().count(word) + 0.1 * (i + 1) for i, word in enumerate(WORDS)]
        norm = math.sqrt(sum(c * c for c in counts))
        vectors.append([c / norm for c in counts])
    return vectors


store = InMemoryStore(index={"embed": embed, "dims": len(WORDS)})
namespace = ("user_123", "memories")
store.put(namespace, "1", {"text": "I love pizza, it is my favourite food"})
store.put(namespace, "2", {"text": "I write python code for a living"})
store.put(namespace, "3", {"text": "I like to hike in the mountain on weekends"})
store.put(namespace, "4", {"text": "Unindexed note about pizza"}, index=False)

for item in store.search(namespace, query="what food do I like?", limit=2):
    print(item.key, item.value["text"], round(item.score, 4))
for item in store.search(namespace, query="code", limit=3):
    print(item.key, round(item.score, 4))
print(
    [
        item.key
        for item in store.search(
            namespace, query="mountain", filter={"text": "I write python code for a living"}
        )
    ]
)


@tool
def search_memory(query: str, store: Annotated[BaseStore, InjectedStore()]) -> str:
    """Search the user's memories."""
    items = store.search(namespace, query=query, limit=1)
    return "; ".join(item.value["text"] for item in items)


print(sorted(search_memory.tool_call_schema.model_json_schema()["properties"]))

model = ScriptedChatModel(
    replies=[
        tool_call("search_memory", {"query": "favourite food"}, "call-1"),
        AIMessage(content="You love pizza."),
    ]
)
agent = create_react_agent(model, [search_memory], store=store, checkpointer=InMemorySaver())
result = agent.invoke(
    {"messages": [{"role": "user", "content": "what do I like to eat?", "id": "h-1"}]},
    {"configurable": {"thread_id": "1"}},
)
for message in result["messages"]:
    print(repr(message))
