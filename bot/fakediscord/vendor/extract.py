"""Extract the operations the fake serves from Discord's full OpenAPI spec.

Usage: python bot/fakediscord/vendor/extract.py /path/to/discord-openapi.json

Writes discord-openapi-subset.json next to this script: only the listed operations and the
component schemas they reference (transitively).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OPERATIONS: tuple[str, ...] = (
    "get_my_user",
    "get_my_oauth2_application",
    "get_bot_gateway",
    "get_gateway",
    "list_application_commands",
    "bulk_set_application_commands",
    "create_application_command",
    "list_guild_application_commands",
    "bulk_set_guild_application_commands",
    "create_guild_application_command",
    "create_interaction_response",
    "execute_webhook",
    "get_original_webhook_message",
    "update_original_webhook_message",
    "delete_original_webhook_message",
    "get_webhook_message",
    "update_webhook_message",
    "delete_webhook_message",
    "create_message",
    "get_message",
    "list_messages",
    "update_message",
    "delete_message",
    "create_thread_from_message",
    "create_thread",
    "add_thread_member",
    "join_thread",
    "get_channel",
    "update_channel",
    "trigger_typing_indicator",
    "get_user",
    "create_dm",
    "list_my_guilds",
    "get_guild",
    "get_guild_member",
    "list_guild_channels",
    "list_guild_roles",
)

HERE = Path(__file__).resolve().parent


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def extract(spec: dict[str, Any]) -> dict[str, Any]:
    """Return a self-contained spec holding only OPERATIONS and what they reference."""
    paths: dict[str, Any] = {}
    wanted = set(OPERATIONS)
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and op.get("operationId") in wanted:
                paths.setdefault(path, {})[method] = op
                wanted.discard(op["operationId"])
    if wanted:
        raise SystemExit(f"operations not in the spec: {sorted(wanted)}")
    schemas = spec["components"]["schemas"]
    names: set[str] = set()
    _refs(paths, names)
    pending = list(names)
    while pending:
        name = pending.pop()
        found: set[str] = set()
        _refs(schemas[name], found)
        for new in found - names:
            names.add(new)
            pending.append(new)
    return {
        "openapi": spec["openapi"],
        "info": spec["info"],
        "paths": paths,
        "components": {"schemas": {name: schemas[name] for name in sorted(names)}},
    }


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else Path("/work/shared/reference/discord-openapi.json")
    subset = extract(json.loads(source.read_text()))
    out = HERE / "discord-openapi-subset.json"
    out.write_text(json.dumps(subset, indent=1, sort_keys=True) + "\n")
    print(f"{out}: {len(subset['paths'])} paths, {len(subset['components']['schemas'])} schemas")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
