"""The long-running watcher: its loop, notifications, runtime directory and published scan."""
