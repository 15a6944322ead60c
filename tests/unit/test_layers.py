"""The layers of ``server/`` (DESIGN.md §1) hold: each module imports only layers below its own,
routes never import routes, and the other packages never import ``server``."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Lowest first. A module may import its own layer and those below it.
LAYERS = ["infra", "access", "http", "live", "sockets", "routes", "composition"]
COMPOSITION = {"app", "cli", "serving", "services", "migrations"}
# Plain leaves every layer may read: the settings.
LEAVES = {"server.config"}
# The container of the running app's services, handed to the edges (routes, sockets and the
# HTTP boundary's sign-in) through ``request.app.state``; nothing below them reaches for it.
CONTAINER = "server.services"
CONTAINER_USERS = {"http", "sockets", "routes"}


def layer_of(module: str) -> str:
    parts = module.split(".")
    if any(module == leaf or module.startswith(leaf + ".") for leaf in LEAVES):
        return "infra"
    if len(parts) < 2 or parts[1] in COMPOSITION or parts[1] == "__init__":
        return "composition"
    return parts[1]


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def server_modules() -> list[Path]:
    return sorted(p for p in (ROOT / "server").rglob("*.py") if "versions" not in p.parts)


def test_every_server_module_is_in_a_known_layer() -> None:
    unknown = {module_name(p) for p in server_modules()} - {""}
    unknown = {m for m in unknown if layer_of(m) not in LAYERS}
    assert not unknown, f"modules outside the layers of DESIGN.md §1: {sorted(unknown)}"


def test_no_layer_imports_one_above_it() -> None:
    crossings = []
    for path in server_modules():
        importer = module_name(path)
        rank = LAYERS.index(layer_of(importer))
        for imported in imports_of(path):
            if not imported.startswith("server.") or imported.count(".") < 1:
                continue
            if imported == CONTAINER or imported.startswith(CONTAINER + "."):
                if layer_of(importer) in CONTAINER_USERS | {"composition"}:
                    continue
                crossings.append(f"{importer} -> {imported}")
                continue
            if LAYERS.index(layer_of(imported)) > rank:
                crossings.append(f"{importer} -> {imported}")
    assert not crossings, "imports that cross a layer upwards:\n" + "\n".join(sorted(crossings))


def test_routes_never_import_routes() -> None:
    crossings = [
        f"{module_name(path)} -> {imported}"
        for path in (ROOT / "server" / "routes").glob("*.py")
        for imported in imports_of(path)
        if imported.startswith("server.routes.")
    ]
    assert not crossings, "\n".join(crossings)


def test_the_other_packages_never_import_server() -> None:
    crossings = [
        f"{module_name(path)} -> {imported}"
        for package in ("signaling", "session_notes", "media")
        for path in (ROOT / package).rglob("*.py")
        for imported in imports_of(path)
        if imported == "server" or imported.startswith("server.")
    ]
    assert not crossings, "\n".join(crossings)


def test_the_access_policy_does_no_io() -> None:
    """The policy is pure: no storage, no bus, no Starlette, no clock it was not given."""
    forbidden = ("server.infra.storage.engine", "server.infra.bus", "starlette", "sqlalchemy")
    for path in (ROOT / "server" / "access").glob("*.py"):
        bad = [i for i in imports_of(path) if i.startswith(forbidden) or i in {"time", "asyncio"}]
        assert not bad, f"{module_name(path)} imports {bad}"


# The record's storage adapters (DESIGN.md §1: "domain logic plus its storage adapter"): the only
# modules of session_notes/ that speak SQL. A new adapter is named here, on purpose.
RECORD_STORAGE = {
    "session_notes.schema",
    "session_notes.store",
    "session_notes.sqlite_append",
    "session_notes.sqlite_checkpoints",
    "session_notes.marks",
    "session_notes.instruments.store",
}
# The instruments registry caches its store's templates; concurrent callers share one read.
CACHES = {"session_notes.instruments.registry": ("asyncio",)}
# SQLite's checkpoints run as a task beside the notes' group commit (bench/README.md, notes).
BACKGROUND = {"session_notes.sqlite_checkpoints": ("asyncio",)}
IO = ("sqlalchemy", "asyncpg", "aiosqlite", "redis", "starlette", "aiofiles", "asyncio", "httpx")


def test_the_record_domain_does_no_io() -> None:
    """The record's rules (workflow, progress, coaching, instruments, notes protocol) are pure:
    SQL stays in its storage adapters, and nothing of session_notes/ opens sockets or files."""
    found = []
    for path in sorted((ROOT / "session_notes").rglob("*.py")):
        module = module_name(path)
        storage = ("sqlalchemy",) if module in RECORD_STORAGE else ()
        allowed = storage + CACHES.get(module, ()) + BACKGROUND.get(module, ())
        for imported in imports_of(path):
            root = imported.split(".")[0]
            if root in IO and root not in allowed:
                found.append(f"{module} -> {imported}")
    assert not found, "I/O outside the record's storage adapters:\n" + "\n".join(sorted(found))


def test_the_server_reaches_the_record_through_its_stores() -> None:
    """The record's tables belong to its stores in session_notes/: no server module queries
    them itself (the stores map the database's errors and keep the workflow's rules)."""
    from session_notes.schema import metadata

    record_tables = set(metadata.tables) - set(_server_tables())
    crossings = [
        f"{module_name(path)} -> {imported}"
        for path in server_modules()
        for imported in imports_of(path)
        if imported.rpartition(".")[0] in RECORD_STORAGE
        and imported.rpartition(".")[2] in record_tables
    ]
    assert not crossings, "\n".join(sorted(crossings))


def _server_tables() -> list[str]:
    from server.infra.storage import schema

    return [name for name in schema.__all__ if name != "metadata"]


def test_the_live_hubs_never_touch_a_web_socket() -> None:
    """Rooms and notes hubs see a member's socket only as `SocketConnection` (an id, a queued
    send, a close): the WebSocket and its sender task live in server/sockets/."""
    found = [
        f"{module_name(path)} -> {imported}"
        for path in sorted((ROOT / "server" / "live").rglob("*.py"))
        for imported in imports_of(path)
        if imported.split(".")[0] in {"starlette", "uvicorn", "websockets"}
    ]
    assert not found, "web sockets in the live layer:\n" + "\n".join(found)
