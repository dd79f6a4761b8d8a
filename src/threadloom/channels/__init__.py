"""threadloom.channels."""
