"""threadloom.testing."""
