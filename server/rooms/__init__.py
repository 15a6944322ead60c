"""Live rooms: sockets, the rooms' home node, and the routing between them."""

from __future__ import annotations

from server.rooms.connection import SocketConnection
from server.rooms.directory import MemoryDirectory, RedisDirectory, RoomDirectory
from server.rooms.hub import RoomHub
from server.rooms.records import RoomRecords

__all__ = [
    "MemoryDirectory",
    "RedisDirectory",
    "RoomDirectory",
    "RoomHub",
    "RoomRecords",
    "SocketConnection",
]
