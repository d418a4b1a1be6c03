"""Stand-ins for opencode's surroundings, for the demo and the tests: a scripted model server
and a writer of opencode's real database schema. otop's scanning code never imports this."""
