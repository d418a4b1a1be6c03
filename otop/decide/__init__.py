"""The decide layer: pure functions fed `now` and plain records, no clock and no I/O.

`turn` reads a session's newest message and part records (from SQLite or a server's JSON
alike) as a Turn; `status` turns a Turn and outside signals into a state; `runs` and
`correlate` bind processes to panes and sessions as a ladder of evidence; `agents` joins
bindings, details and signals into Agents. It imports nothing of otop but `model` and the
pure text helpers.
"""
