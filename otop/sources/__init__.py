"""What otop reads of the world as plain records: processes, tmux, opencode."""
