"""``threadloom.prebuilt.tool_validator``: validate tool calls without running them."""

from threadloom.prebuilt._validation_node import ValidationNode

__all__ = ["ValidationNode"]
