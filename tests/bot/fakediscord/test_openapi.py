"""Request bodies are checked against the vendored subset of Discord's OpenAPI spec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.fakediscord import rules
from bot.fakediscord.openapi import SUBSET_PATH, BodyValidator
from bot.fakediscord.vendor import extract

FULL_SPEC = Path("/work/shared/reference/discord-openapi.json")


@pytest.fixture(scope="module")
def validator() -> BodyValidator:
    return BodyValidator()


def _errors(validator: BodyValidator, op: str, body: object) -> dict[str, object]:
    with pytest.raises(rules.DiscordError) as raised:
        validator.validate(op, body)
    assert raised.value.status == 400 and raised.value.code == 50035
    assert raised.value.errors is not None
    return raised.value.errors


def test_valid_bodies_pass(validator: BodyValidator) -> None:
    validator.validate("create_message", {"content": "hi", "nonce": "1", "enforce_nonce": True})
    validator.validate(
        "create_message", {"content": "x", "attachments": [{"id": 0, "filename": "a.png"}]}
    )
    validator.validate("create_interaction_response", {"type": 5, "data": {"flags": 64}})
    validator.validate(
        "create_interaction_response",
        {"type": 8, "data": {"choices": [{"name": "a", "value": "a"}]}},
    )
    validator.validate("create_thread", {"name": "t", "type": 11})
    validator.validate("bulk_set_application_commands", [{"name": "ping", "description": "p"}])


def test_errors_are_shaped_like_discords(validator: BodyValidator) -> None:
    errors = _errors(validator, "create_message", {"content": "x" * 4001, "tts": "no"})
    assert errors["content"] == {
        "_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 4000 or fewer in length."}]
    }
    assert "tts" in errors
    missing = _errors(validator, "create_thread_from_message", {})
    assert missing == {
        "name": {"_errors": [{"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}]}
    }


def test_callback_union_is_chosen_by_type(validator: BodyValidator) -> None:
    errors = _errors(validator, "create_interaction_response", {"type": 3})
    assert errors["type"]["_errors"][0]["code"] == "BASE_TYPE_CHOICES"  # type: ignore[index]
    errors = _errors(validator, "create_interaction_response", {"type": 8})
    assert errors["data"]["_errors"][0]["code"] == "BASE_TYPE_REQUIRED"  # type: ignore[index]


def test_operations_without_body_accept_anything(validator: BodyValidator) -> None:
    assert not validator.has_body("get_channel")
    validator.validate("get_channel", None)


@pytest.mark.skipif(not FULL_SPEC.exists(), reason="full spec not available in this checkout")
def test_vendored_subset_is_what_extract_makes() -> None:
    made = extract.extract(json.loads(FULL_SPEC.read_text()))
    vendored = json.loads(SUBSET_PATH.read_text())
    assert made == vendored


def test_vendored_subset_is_self_contained() -> None:
    subset = json.loads(SUBSET_PATH.read_text())
    found: set[str] = set()
    extract._refs(subset, found)
    assert found <= set(subset["components"]["schemas"])
    ops = {op["operationId"] for item in subset["paths"].values() for op in item.values()}
    assert ops == set(extract.OPERATIONS)
    licence = SUBSET_PATH.parent / "LICENSE"
    assert "MIT License" in licence.read_text()
