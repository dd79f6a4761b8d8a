"""How-to: read the similarity scores of a semantic search, in full, and their order when two are close."""

import math

from langgraph.store.memory import InMemoryStore

WORDS = ["pizza", "food", "python", "code", "hike", "mountain"]


def embed(texts: list[str]) -> list[list[float]]:
    """A deterministic toy embedding in which two memories score almost the same."""
    vectors = []
    for text in texts:
        counts = [text.lower().count(word) + 0.1 for word in WORDS]
        norm = math.sqrt(sum(c * c for c in counts))
        vectors.append([c / norm for c in counts])
    return vectors


store = InMemoryStore(index={"embed": embed, "dims": len(WORDS)})
namespace = ("user_123", "memories")
store.put(namespace, "1", {"text": "I love pizza, it is my favourite food"})
store.put(namespace, "2", {"text": "I write python code for a living"})
store.put(namespace, "3", {"text": "I like to hike in the mountain on weekends"})
for item in store.search(namespace, query="what food do I like?"):
    print(item.key, item.score)
