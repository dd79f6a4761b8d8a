"""threadloom.store.postgres."""
