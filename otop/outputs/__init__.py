"""Pure renderings of agents: JSON, table rows, status text, bars, first frame, explain."""
