"""threadloom.graph."""
