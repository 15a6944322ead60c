"""The live hubs: rooms and notes rooms, and the directory of which node runs which room."""
