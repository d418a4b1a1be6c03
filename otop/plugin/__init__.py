"""The tmux side: the option table, key bindings, status line, picker and typeahead."""
