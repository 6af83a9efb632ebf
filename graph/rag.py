"""RAG: questions answered from the lab's documents, submissions and document uploads."""
