"""threadloom.checkpoint.sqlite."""
