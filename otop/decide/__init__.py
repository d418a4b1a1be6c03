"""The decide layer: pure functions fed `now` and plain records, no clock and no I/O."""
