"""The sans-I/O signaling core: rooms, lobby, wire messages (DESIGN.md §1)."""
