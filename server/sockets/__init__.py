"""The two WebSocket endpoints (signaling, notes) and the gate they share."""
