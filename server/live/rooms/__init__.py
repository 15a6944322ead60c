"""Live rooms: sockets, the rooms' home node, and the routing between them."""

from __future__ import annotations

from server.live.rooms.connection import SocketConnection
from server.live.rooms.directory import MemoryDirectory, RedisDirectory, RoomDirectory
from server.live.rooms.hub import RoomHub
from server.live.rooms.records import RoomRecords

__all__ = [
    "MemoryDirectory",
    "RedisDirectory",
    "RoomDirectory",
    "RoomHub",
    "RoomRecords",
    "SocketConnection",
]
