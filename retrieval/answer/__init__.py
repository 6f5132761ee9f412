"""Answering: retrieval, the reader and answer composition, as one pipeline."""
