"""threadloom.checkpoint."""
