"""Records and text helpers every layer uses; imports nothing of otop."""
