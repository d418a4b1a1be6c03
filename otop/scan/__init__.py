"""The one join: processes, tmux, logs and stores read, then decided, as a Scan."""
