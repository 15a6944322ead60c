"""The hub's record of which claim each socket's room is under (server/live/rooms/ownership.py
`SocketClaims`): locating a room reads the claims known for that room alone, and the record of
a room is gone with its last socket (a node up for weeks keeps nothing of rooms long left)."""

from __future__ import annotations

from server.live.rooms.ownership import Claim, SocketClaims


def test_a_rooms_claims_are_those_of_its_sockets_here_and_leave_with_them() -> None:
    claims = SocketClaims()
    first, moved = Claim("room-a", "node-1", 1), Claim("room-a", "node-2", 2)
    other = Claim("room-b", "node-1", 1)
    claims["c1"], claims["c2"], claims["c3"] = first, first, other
    assert claims.of_session("room-a") == [first, first]
    assert claims.of_session("room-c") == []
    assert claims.claims() == {first, other}

    # The room moved: one socket is under the new claim, the other still under the old.
    claims["c1"] = moved
    assert sorted(claims.of_session("room-a"), key=lambda c: c.generation) == [first, moved]
    assert claims.get("c1") == moved

    assert claims.pop("c1") == moved
    assert claims.pop("c1") is None
    assert claims.pop("c2") == first
    assert claims.of_session("room-a") == []
    assert claims.items() == [("c3", other)]
    assert claims._by_session.keys() == {"room-b"}  # nothing kept of a room with no socket here
