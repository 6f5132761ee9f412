"""The search index: versions in the data folder, FAISS and BM25, the incremental reindex."""
