"""Request-body validation against the vendored subset of Discord's OpenAPI spec."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError, best_match  # type: ignore[import-untyped]

from bot.fakediscord import rules

SUBSET_PATH = Path(__file__).resolve().parent / "vendor" / "discord-openapi-subset.json"

# Discord documents snowflakes as strings but accepts JSON integers too (discord.py sends some
# ids, e.g. attachment ids in payload_json, as integers); the spec's string-only form would
# reject requests Discord accepts.
SNOWFLAKE = {
    "anyOf": [
        {"type": "string", "pattern": "^(0|[1-9][0-9]*)$"},
        {"type": "integer", "minimum": 0},
    ],
    "format": "snowflake",
}


@cache
def load_spec(path: Path = SUBSET_PATH) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(path.read_text())
    spec = copy.deepcopy(spec)
    spec["components"]["schemas"]["SnowflakeType"] = SNOWFLAKE
    return spec


class BodyValidator:
    """Validates request bodies of named operations; answers Discord-style 50035 errors."""

    def __init__(self, spec: dict[str, Any] | None = None) -> None:
        self.spec = spec if spec is not None else load_spec()
        self._ops: dict[str, dict[str, Any]] = {}
        for item in self.spec["paths"].values():
            for op in item.values():
                if isinstance(op, dict) and "operationId" in op:
                    self._ops[op["operationId"]] = op
        self._validators: dict[str, jsonschema.protocols.Validator] = {}

    def has_body(self, operation_id: str) -> bool:
        return "requestBody" in self._ops[operation_id]

    def _schema(self, operation_id: str) -> dict[str, Any] | None:
        op = self._ops[operation_id]
        body = op.get("requestBody")
        if body is None:
            return None
        schema: dict[str, Any] = body["content"]["application/json"]["schema"]
        return schema

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            schema = self.spec["components"]["schemas"][name]
        return schema

    def _pick_union_branch(self, schema: dict[str, Any], body: Any) -> dict[str, Any]:
        """For a top-level union discriminated by "type", pick the branch for body["type"]."""
        branches = schema.get("anyOf")
        if not branches or not isinstance(body, dict) or "type" not in body:
            return schema
        allowed: list[Any] = []
        for branch in branches:
            props = self._resolve(branch).get("properties", {})
            values = props.get("type", {}).get("enum", [])
            allowed.extend(values)
            if body["type"] in values:
                return dict(branch)
        if not allowed:
            return schema
        raise rules.form_error(
            ["type"],
            "BASE_TYPE_CHOICES",
            f"Value must be one of {{{', '.join(str(v) for v in sorted(allowed))}}}.",
        )

    def _validator(self, key: str, schema: dict[str, Any]) -> jsonschema.protocols.Validator:
        validator = self._validators.get(key)
        if validator is None:
            root = {**schema, "components": self.spec["components"]}
            validator = jsonschema.Draft202012Validator(root)
            self._validators[key] = validator
        return validator

    def validate(self, operation_id: str, body: Any) -> None:
        """Raise rules.DiscordError (400, 50035) when `body` does not fit the operation."""
        schema = self._schema(operation_id)
        if schema is None:
            return
        branch = self._pick_union_branch(schema, body)
        key = f"{operation_id}:{json.dumps(branch, sort_keys=True)}"
        errors = list(self._validator(key, branch).iter_errors(body))
        if not errors:
            return
        merged: dict[str, Any] = {}
        for error in errors:
            best = best_match([error])
            path, code, message = describe(best)
            node = merged
            for part in path:
                node = node.setdefault(str(part), {})
            node.setdefault("_errors", []).append({"code": code, "message": message})
        raise rules.DiscordError(400, 50035, "Invalid Form Body", merged)


def describe(error: ValidationError) -> tuple[list[str | int], str, str]:
    """Map one jsonschema error to Discord's (path, code, message)."""
    path: list[str | int] = list(error.absolute_path)
    kind = error.validator
    value = error.validator_value
    if kind == "required":
        missing = next((f for f in value if f not in (error.instance or {})), "")
        return [*path, missing], "BASE_TYPE_REQUIRED", "This field is required"
    if kind in ("maxLength", "maxItems"):
        return path, "BASE_TYPE_MAX_LENGTH", f"Must be {value} or fewer in length."
    if kind in ("minLength", "minItems"):
        return path, "BASE_TYPE_MIN_LENGTH", f"Must be {value} or more in length."
    if kind == "enum":
        shown = ", ".join(str(v) for v in value)
        return path, "BASE_TYPE_CHOICES", f"Value must be one of {{{shown}}}."
    if kind in ("maximum", "minimum"):
        word = "less" if kind == "maximum" else "greater"
        return path, f"NUMBER_TYPE_{kind.upper()}", f"int value should be {word} than {value}."
    if kind == "type":
        return path, "BASE_TYPE_BAD_TYPE", f"Value {error.instance!r} is not of type {value}."
    if kind == "pattern":
        return path, "STRING_TYPE_REGEX", f"String value did not match validation regex ({value})."
    return path, "BASE_TYPE_INVALID", error.message[:200]
