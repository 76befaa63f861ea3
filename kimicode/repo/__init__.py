"""Repository ingestion: files -> outlines/tokens -> ranking -> pack."""
