"""ICE servers handed to each member in ``welcome`` (DESIGN.md §2, §3).

TURN credentials follow coturn's ``use-auth-secret`` REST scheme (draft-uberti-behave-turn-rest):
the username is ``<expiry unix time>:<member>`` and the password is base64(HMAC-SHA1(secret,
username)), so coturn checks them without any call back to us.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from server.config import Config
from signaling import IceServer

__all__ = ["ice_servers_for"]

# A session rarely runs longer; a member who stays past it gets fresh credentials on resume.
DEFAULT_LIFETIME_S = 4 * 3600


def ice_servers_for(
    config: Config, member: str, *, now: float, lifetime_s: int = DEFAULT_LIFETIME_S
) -> tuple[IceServer, ...]:
    servers: list[IceServer] = []
    if config.stun_urls:
        servers.append(IceServer(urls=config.stun_urls))
    if config.turn_urls and config.turn_secret:
        username = f"{int(now) + lifetime_s}:{member}"
        digest = hmac.new(config.turn_secret.encode(), username.encode(), hashlib.sha1).digest()
        servers.append(
            IceServer(
                urls=config.turn_urls,
                username=username,
                credential=base64.b64encode(digest).decode(),
            )
        )
    return tuple(servers)
