"""otop: htop for opencode agents, inside tmux."""

__version__ = "0.1.0"
