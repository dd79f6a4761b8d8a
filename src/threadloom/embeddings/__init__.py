"""threadloom.embeddings."""
