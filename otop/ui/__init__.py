"""The Textual app: otop's live table, full screen or in a tmux popup."""
