"""Memory that manages itself: tools, a memory manager, history, dedup, reflection.

Built on the public store API only, so it works the same on every store.
"""

from threadloom.memory.changes import AppliedChange, MemoryChange, apply_changes
from threadloom.memory.dedup import DEFAULT_THRESHOLD, DedupConfig, find_duplicate
from threadloom.memory.history import (
    HISTORY_LABEL,
    MemoryVersion,
    get_history,
    history_namespace,
    search_memories,
)
from threadloom.memory.manager import (
    ExtractedMemory,
    MemoryManager,
    MemoryOperation,
    MemoryOperations,
    MemoryStoreManager,
    create_memory_manager,
    create_memory_store_manager,
)
from threadloom.memory.namespace import NamespaceTemplate
from threadloom.memory.tools import create_manage_memory_tool, create_search_memory_tool

__all__ = [
    "DEFAULT_THRESHOLD",
    "HISTORY_LABEL",
    "AppliedChange",
    "DedupConfig",
    "ExtractedMemory",
    "MemoryChange",
    "MemoryManager",
    "MemoryOperation",
    "MemoryOperations",
    "MemoryStoreManager",
    "MemoryVersion",
    "NamespaceTemplate",
    "apply_changes",
    "create_manage_memory_tool",
    "create_memory_manager",
    "create_memory_store_manager",
    "create_search_memory_tool",
    "find_duplicate",
    "get_history",
    "history_namespace",
    "search_memories",
]
