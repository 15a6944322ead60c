"""What a request handler can reach: the app's long-lived services, built once per app."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from server.accounts import Accounts
from server.bus import Bus
from server.config import Config
from server.metrics import Metrics
from server.passwords import Passwords
from server.rate_limit import SlidingWindowLimiter
from server.storage import Store

__all__ = ["Services", "services"]


@dataclass(frozen=True)
class Services:
    config: Config
    store: Store
    bus: Bus
    passwords: Passwords
    metrics: Metrics
    accounts: Accounts
    login_failures_by_account: SlidingWindowLimiter
    login_failures_by_ip: SlidingWindowLimiter

    @classmethod
    def build(cls, config: Config, store: Store, bus: Bus, passwords: Passwords) -> Services:
        return cls(
            config=config,
            store=store,
            bus=bus,
            passwords=passwords,
            metrics=Metrics(),
            accounts=Accounts(store, passwords),
            login_failures_by_account=SlidingWindowLimiter(
                config.login_attempts_per_account, config.login_window_s
            ),
            login_failures_by_ip=SlidingWindowLimiter(
                config.login_attempts_per_ip, config.login_window_s
            ),
        )


def services(connection: HTTPConnection) -> Services:
    found: Services = connection.app.state.services
    return found
