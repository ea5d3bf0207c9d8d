"""The module graph of ``bot`` and ``cogs``: no import cycles, and imports point downward.

The graph is read from the source with :mod:`ast` (no module is imported to build it): every
``import`` and ``from ... import`` statement counts, at module level or inside a function, with
relative imports resolved. Imports under ``if TYPE_CHECKING:`` never run, so they are left out
of the cycle check; the layering rules apply to them too.

Layering (see docs/architecture.md): only ``bot/app.py`` and ``bot/ui/`` (and ``cogs/``) import
discord; no core module imports ``bot.ui``, ``bot.app`` or ``cogs``, except ``bot/cli.py``,
which imports ``bot.app`` inside its command functions so that ``check-config`` and ``simulate``
never load discord; ``bot/ui/`` does not import ``bot.app`` or ``cogs``. Two packages sit apart:
``bot/fakediscord/`` (a stand-in for Discord) imports nothing of the bot and not discord, and
``bot/playground/`` (the fake, the simulator and the real bot in one process) sits on top of
everything, imported by ``bot/cli.py`` alone, lazily; nothing the bot runs imports either.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "cogs")


@dataclass(frozen=True)
class Edge:
    """One import statement from ``source`` of ``target`` (a module, or ``discord``...)."""

    source: str
    target: str
    line: int
    in_function: bool
    type_only: bool


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    """Every module under ``bot/`` and ``cogs/``, by dotted name."""
    found = {
        _module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
    }
    assert "bot.app" in found and "cogs.generate" in found, sorted(found)
    return found


def _known(name: str) -> str:
    """The longest prefix of ``name`` that is one of our modules, or ``name`` itself."""
    probe = name
    while probe:
        if probe in modules():
            return probe
        probe = probe.rpartition(".")[0]
    return name


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    """What one statement imports: our modules resolved to their file, others by full name."""
    if isinstance(node, ast.Import):
        return [_known(alias.name) for alias in node.names]
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        if node.level > 1:
            package = package[: -(node.level - 1)]
        base = ".".join([*package, node.module] if node.module else package)
    else:
        base = node.module or ""
    targets = []
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        targets.append(submodule if submodule in modules() else _known(base))
    return targets


def _walk(
    module: str,
    is_package: bool,
    nodes: list[ast.AST],
    found: list[Edge],
    *,
    in_function: bool,
    type_only: bool,
) -> None:
    """Record the imports among ``nodes`` and everything nested in them."""
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            for target in _targets(module, is_package, node):
                found.append(Edge(module, target, node.lineno, in_function, type_only))
            continue
        children: list[ast.AST] = list(ast.iter_child_nodes(node))
        inner = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            _walk(module, is_package, list(node.body), found, in_function=inner, type_only=True)
            children = list(node.orelse)
        _walk(module, is_package, children, found, in_function=inner, type_only=type_only)


@cache
def edges() -> tuple[Edge, ...]:
    """Every import statement of every module, with where it sits."""
    found: list[Edge] = []
    for module, path in sorted(modules().items()):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        is_package = path.name == "__init__.py"
        _walk(module, is_package, [tree], found, in_function=False, type_only=False)
    return tuple(found)


def runtime_graph() -> dict[str, set[str]]:
    """Our modules and the ones of ours each imports when it runs (TYPE_CHECKING left out)."""
    graph: dict[str, set[str]] = {name: set() for name in modules()}
    for edge in edges():
        if not edge.type_only and edge.target in graph and edge.target != edge.source:
            graph[edge.source].add(edge.target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected component of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                connect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_cycle_in(graph, set(component)) for component in components]


def _cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle from the component's first module back to itself."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    for node in queue:
        for succ in sorted(graph[node] & component):
            if succ == start:
                return [*paths[node], start]
            if succ not in paths:
                paths[succ] = [*paths[node], succ]
                queue.append(succ)
    raise AssertionError(f"no cycle in {component}")  # pragma: no cover


def _below(target: str, prefix: str) -> bool:
    return target == prefix or target.startswith(prefix + ".")


APART = ("bot.fakediscord", "bot.playground")
"""Packages outside the bot's layers: the fake Discord and the playground built on it."""


def _is_apart(module: str) -> bool:
    return any(_below(module, package) for package in APART)


def _is_core(module: str) -> bool:
    return (
        _below(module, "bot")
        and not _is_apart(module)
        and not (module == "bot.app" or _below(module, "bot.ui"))
    )


def _is_discord_layer(module: str) -> bool:
    return module == "bot.app" or _below(module, "bot.ui") or _below(module, "cogs")


def _describe(edge: Edge) -> str:
    where = " (in a function)" if edge.in_function else ""
    where += " (TYPE_CHECKING)" if edge.type_only else ""
    return f"{modules()[edge.source].relative_to(ROOT)}:{edge.line}: {edge.target}{where}"


def test_the_graph_sees_every_kind_of_import() -> None:
    """Sanity: relative, absolute, function-level and TYPE_CHECKING imports are all found."""
    by_pair = {(e.source, e.target): e for e in edges()}
    assert ("bot.ui.actions", "bot.ui.posting") in by_pair  # from .posting import ...
    assert ("bot.ui.embeds", "bot.domain") in by_pair  # from bot.domain import ...
    assert ("bot.media", "bot.media.errors") in by_pair  # a package's __init__
    assert by_pair[("bot.cli", "bot.app")].in_function
    assert by_pair[("cogs.jobs", "bot.app")].type_only
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_import_cycles() -> None:
    """No module of ``bot`` or ``cogs`` can reach itself through imports that run."""
    cycles = find_cycles(runtime_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_cycles_in_the_discord_layer_even_for_type_checking() -> None:
    """In ``bot/app.py``, ``bot/ui/`` and ``cogs/`` not even annotation-only imports go round."""
    layer = {name for name in modules() if _is_discord_layer(name)}
    graph: dict[str, set[str]] = {name: set() for name in layer}
    for edge in edges():
        if edge.source in layer and edge.target in layer and edge.target != edge.source:
            graph[edge.source].add(edge.target)
    cycles = find_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_only_the_discord_layer_imports_discord() -> None:
    """Only ``bot/app.py``, ``bot/ui/`` and ``cogs/`` import discord."""
    bad = [
        _describe(e)
        for e in edges()
        if not _is_discord_layer(e.source) and _below(e.target.lower(), "discord")
    ]
    assert not bad, "discord imported outside the Discord layer:\n" + "\n".join(bad)


def test_core_modules_do_not_import_upward() -> None:
    """No core module imports ``bot.ui``, ``bot.app`` or ``cogs`` (bot/cli.py: lazily only)."""
    bad = [
        _describe(e)
        for e in edges()
        if _is_core(e.source)
        and any(_below(e.target, up) for up in ("bot.ui", "bot.app", "cogs"))
        and not (e.source == "bot.cli" and e.target == "bot.app" and e.in_function)
    ]
    assert not bad, "core modules importing upward:\n" + "\n".join(bad)


def test_the_ui_does_not_import_the_app_or_the_cogs() -> None:
    """``bot/ui/`` sits below ``bot/app.py`` and ``cogs/``."""
    bad = [
        _describe(e)
        for e in edges()
        if _below(e.source, "bot.ui") and any(_below(e.target, up) for up in ("bot.app", "cogs"))
    ]
    assert not bad, "bot/ui importing upward:\n" + "\n".join(bad)


def test_the_fake_discord_stands_alone() -> None:
    """``bot/fakediscord/`` imports only itself of ours: a stand-in for Discord, not the bot."""
    assert "bot.fakediscord.server" in modules()
    bad = [
        _describe(e)
        for e in edges()
        if _below(e.source, "bot.fakediscord")
        and (_below(e.target, "bot") or _below(e.target, "cogs"))
        and not _below(e.target, "bot.fakediscord")
    ]
    assert not bad, "bot/fakediscord importing the bot:\n" + "\n".join(bad)


def test_nothing_the_bot_runs_imports_the_fake_or_the_playground() -> None:
    """Only ``bot/cli.py`` reaches ``bot.playground``, inside its command function; nothing of
    the bot (core, Discord layer, cogs) imports ``bot.fakediscord``."""
    assert "bot.playground" in modules()
    bad = [
        _describe(e)
        for e in edges()
        if not _is_apart(e.source)
        and any(_below(e.target, package) for package in APART)
        and not (e.source == "bot.cli" and e.target.startswith("bot.playground") and e.in_function)
    ]
    assert not bad, "the bot importing the fake or the playground:\n" + "\n".join(bad)


def test_importing_every_core_module_leaves_discord_unloaded() -> None:
    """The same rule at run time: the core (and the fake Discord) never pull discord in."""
    core = sorted(
        m
        for m in modules()
        if (_is_core(m) or _below(m, "bot.fakediscord"))
        and m not in ("bot.__main__", "bot.fakediscord.__main__")
    )
    script = (
        "import importlib, sys\n"
        f"for name in {core!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m == 'discord' or m.startswith('discord.'))\n"
        "print(len(loaded), loaded[:5])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("0 "), result.stdout


def test_no_cycle_even_counting_type_only_imports() -> None:
    """Not even an annotation needs a module that needs this one back."""
    graph: dict[str, set[str]] = {name: set() for name in modules()}
    for edge in edges():
        if edge.target in graph and edge.target != edge.source:
            graph[edge.source].add(edge.target)
    assert find_cycles(graph) == []
