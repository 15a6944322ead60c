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
