"""threadloom.store.sqlite."""
