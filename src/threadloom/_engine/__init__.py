"""threadloom._engine."""
