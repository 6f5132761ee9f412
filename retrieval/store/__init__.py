"""What is kept in SQLite: articles, passages and vectors per index version, and the activity log."""
