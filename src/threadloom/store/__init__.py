"""threadloom.store."""
