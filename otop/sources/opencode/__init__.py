"""Everything that knows opencode: its paths, its store, its logs and its config."""
