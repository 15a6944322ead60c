"""Notes rooms: the live side of a session's shared notes."""
