"""threadloom.checkpoint.postgres."""
