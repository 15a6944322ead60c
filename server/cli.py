"""The ``preceptor`` command: serve, migrate and administer (DESIGN.md §2)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Sequence

from server.config import Config, ConfigError
from server.infra.accounts import AccountError, Accounts
from server.infra.passwords import Passwords
from server.infra.roles import Role
from server.infra.storage import Store, migrate

__all__ = ["main"]


def _store(config: Config) -> Store:
    return Store.open(
        config.database_url,
        idle_timeout_s=config.session_idle_timeout_s,
        absolute_timeout_s=config.session_absolute_timeout_s,
    )


async def _migrate(config: Config) -> int:
    store = _store(config)
    try:
        await migrate(store.engine)
    finally:
        await store.close()
    print("database is at the newest schema")
    return 0


async def _create_user(config: Config, args: argparse.Namespace) -> int:
    password = args.password
    if password is None:
        password = getpass.getpass("Password: ")
    store = _store(config)
    try:
        user = await Accounts(store, Passwords()).create_user(
            email=args.email, name=args.name, role=Role(args.role), password=password, actor_id=None
        )
    finally:
        await store.close()
    print(user.id)
    return 0


async def _set_disabled(config: Config, user_id: str, disabled: bool) -> int:
    store = _store(config)
    try:
        await Accounts(store, Passwords()).set_disabled(user_id, disabled, actor_id=None)
    finally:
        await store.close()
    print(f"{user_id} {'disabled' if disabled else 'enabled'}")
    if disabled and not await _close_sockets_of(config, user_id):
        print(
            "note: open sockets of this user close at the servers' next re-check (within 30 s)",
            file=sys.stderr,
        )
    return 0


async def _close_sockets_of(config: Config, user_id: str) -> bool:
    """Tell every node, over Redis, to close ``user_id``'s sockets now: the envelope that
    ``RoomHub.revoke`` publishes. Without Redis this process cannot reach the servers; they find
    the ended sign-ins at their periodic re-check. True when the message was published."""
    if config.redis_url is None:
        return False
    # Imported here: the rooms package brings aiortc (~0.6 s), which no other command needs.
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    from server.infra.bus.redis import PREFIX
    from server.live.rooms import envelopes
    from server.live.rooms.hub import REVOCATIONS

    redis = aioredis.Redis.from_url(config.redis_url, socket_connect_timeout=2, socket_timeout=5)
    try:
        # The channel every RoomHub listens on for revocations, as RedisBus names it in Redis;
        # tests/test_cli.py checks it end to end.
        await redis.publish(
            PREFIX + REVOCATIONS, envelopes.encode(envelopes.RevokeSockets(subject=user_id))
        )
    except (RedisError, OSError) as exc:
        print(f"preceptor: could not reach Redis: {exc}", file=sys.stderr)
        return False
    finally:
        await redis.aclose()
    return True


async def _assign(config: Config, supervisor_id: str, trainee_id: str) -> int:
    store = _store(config)
    try:
        await Accounts(store, Passwords()).assign(supervisor_id, trainee_id, actor_id=None)
    finally:
        await store.close()
    print(f"trainee {trainee_id} is followed by supervisor {supervisor_id}")
    return 0


async def _list_users(config: Config) -> int:
    store = _store(config)
    try:
        for user in await store.users.all():
            state = " (disabled)" if user.disabled else ""
            print(f"{user.id}\t{user.role.value}\t{user.email}\t{user.name}{state}")
    finally:
        await store.close()
    return 0


async def _verify_audit(config: Config) -> int:
    store = _store(config)
    try:
        checked, broken = await store.audit.verify()
    finally:
        await store.close()
    if broken is None:
        print(f"audit log intact: {checked} events checked")
        return 0
    print(f"audit log BROKEN at event {broken.seq}: {broken.reason}", file=sys.stderr)
    return 1


async def _purge_recordings(config: Config) -> int:
    """Retention now (servers also do it hourly): delete recordings older than
    PRECEPTOR_RECORDING_RETENTION_DAYS, each deletion audited."""
    from server.live.recording import Recordings

    store = _store(config)
    try:
        deleted = await Recordings(store, config).purge()
    finally:
        await store.close()
    print(f"{deleted} recording(s) past {config.recording_retention_days} days deleted")
    return 0


def _serve(config: Config, host: str, port: int) -> int:
    from server.app import create_app
    from server.infra.logs import configure_logging
    from server.serving import DrainingServer, drain, uvicorn_config

    configure_logging(config.log_level)
    app = create_app(config)
    # SIGTERM drains: members are told to reconnect (to another node) before the process exits.
    DrainingServer(uvicorn_config(app, host, port), lambda: drain(app.state.services)).run()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="preceptor", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    commands.add_parser("migrate", help="create or upgrade the database schema")
    create = commands.add_parser("create-user", help="create an account; prints its id")
    create.add_argument("--email", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--password", help="prompted for when omitted")
    disable = commands.add_parser("disable-user", help="disable an account, ending its sessions")
    disable.add_argument("user_id")
    enable = commands.add_parser("enable-user", help="enable an account again")
    enable.add_argument("user_id")
    assign = commands.add_parser("assign", help="assign a trainee to a supervisor")
    assign.add_argument("--supervisor", required=True)
    assign.add_argument("--trainee", required=True)
    commands.add_parser("list-users", help="list accounts")
    commands.add_parser("verify-audit", help="check the audit log's hash chain")
    commands.add_parser("purge-recordings", help="delete recordings past their retention period")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = Config.from_env()
        if args.command == "serve":
            return _serve(config, args.host, args.port)
        runners = {
            "migrate": lambda: _migrate(config),
            "create-user": lambda: _create_user(config, args),
            "disable-user": lambda: _set_disabled(config, args.user_id, True),
            "enable-user": lambda: _set_disabled(config, args.user_id, False),
            "assign": lambda: _assign(config, args.supervisor, args.trainee),
            "list-users": lambda: _list_users(config),
            "verify-audit": lambda: _verify_audit(config),
            "purge-recordings": lambda: _purge_recordings(config),
        }
        return asyncio.run(runners[args.command]())
    except (ConfigError, AccountError) as exc:
        print(f"preceptor: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
