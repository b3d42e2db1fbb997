"""What stays on disk between runs: the SQLite checkpoint, its schema and lock, the backups."""
