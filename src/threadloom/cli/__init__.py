"""threadloom.cli."""
