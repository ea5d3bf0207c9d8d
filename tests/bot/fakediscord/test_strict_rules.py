"""Discord's stricter rules, driven over raw HTTP as the bot would send them."""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.fakediscord import FakeDiscord, FakeDiscordClient, rules
from bot.fakediscord.client import ControlError
from tests.bot.fakediscord.conftest import Seed

Json = Any
MODAL = {
    "custom_id": "prompt",
    "title": "Prompt",
    "components": [
        {"type": 1, "components": [{"type": 4, "custom_id": "text", "label": "Text", "style": 1}]}
    ],
}


class HeldFakeDiscord(FakeDiscord):
    """The fake with a middleware appended after its own (as tests/e2e's holding one is) that
    holds the next answer to a matching path until `release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.pattern: re.Pattern[str] | None = None
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    def hold_next(self, path_regex: str) -> None:
        self.pattern = re.compile(path_regex)
        self.reached.clear()
        self.release.clear()

    def make_app(self) -> web.Application:
        app = super().make_app()

        @web.middleware
        async def hold(request: web.Request, handler: Any) -> web.StreamResponse:
            response: web.StreamResponse = await handler(request)
            pattern = self.pattern
            if pattern is not None and pattern.fullmatch(request.path.removeprefix("/api/v10")):
                self.pattern = None
                self.reached.set()
                await self.release.wait()
            return response

        app.middlewares.append(hold)
        return app


@pytest.fixture
async def held() -> AsyncIterator[HeldFakeDiscord]:
    async with HeldFakeDiscord() as server:
        yield server
        server.release.set()
    assert server.invalid == [], server.invalid
    assert server.errors == [], server.errors


class Bot:
    """Raw REST calls with the bot token; returns (status, JSON body or None)."""

    def __init__(self, fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
        self.fake = fake
        self.http = http

    async def call(self, method: str, path: str, body: Json = None, **query: str) -> Any:
        headers = {"Authorization": f"Bot {self.fake.token}"}
        url = self.fake.api_base + path
        async with self.http.request(method, url, json=body, headers=headers, params=query) as resp:
            data = await resp.json() if resp.status != 204 else None
            return resp.status, data

    async def upload(self, path: str, body: Json, files: list[tuple[str, bytes]]) -> Any:
        form = aiohttp.FormData(quote_fields=False)
        form.add_field("payload_json", json.dumps(body), content_type="application/json")
        for index, (name, data) in enumerate(files):
            form.add_field(f"files[{index}]", data, filename=name)
        headers = {"Authorization": f"Bot {self.fake.token}"}
        async with self.http.post(self.fake.api_base + path, data=form, headers=headers) as resp:
            return resp.status, await resp.json()

    async def send(self, channel_id: int, body: Json) -> Any:
        return await self.call("POST", f"/channels/{channel_id}/messages", body)


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[Bot]:
    async with aiohttp.ClientSession() as http:
        yield Bot(fake, http)


async def _seed(ctl: FakeDiscordClient) -> Seed:
    user = await ctl.create_user("alice")
    guild = await ctl.create_guild("Held")
    await ctl.add_member(int(guild["id"]), int(user["id"]))
    channel = await ctl.create_channel(int(guild["id"]), "general")
    await ctl.settings(require_registered_commands=False)
    return Seed(int(guild["id"]), int(channel["id"]), int(user["id"]), int(guild["owner_id"]))


async def _invoke(ctl: FakeDiscordClient, seed: Seed, name: str = "open") -> tuple[str, str]:
    iid = await ctl.invoke_command(seed.user_id, seed.guild_id, seed.channel_id, name)
    return iid, (await ctl.interaction(iid))["token"]


def _callback_path(iid: str, token: str) -> str:
    return f"/interactions/{iid}/{token}/callback"


def _first_error(errors: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """The path to the first `_errors` in Discord's nested errors, and that error."""
    path: list[str] = []
    node = errors
    while "_errors" not in node:
        key = next(iter(node))
        path.append(key)
        node = node[key]
    return path, node["_errors"][0]


def _button(custom_id: str | None = "b", style: int = 1, **extra: Any) -> dict[str, Any]:
    button: dict[str, Any] = {"type": 2, "style": style, "label": "Go", **extra}
    if custom_id is not None:
        button["custom_id"] = custom_id
    return button


def _row(*components: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(components)}


# -- 1. answered before usable ------------------------------------------------------------------


async def test_modal_submit_waits_until_the_callback_answer_was_sent(
    held: HeldFakeDiscord,
) -> None:
    async with FakeDiscordClient(held.base_url) as ctl, aiohttp.ClientSession() as http:
        seed = await _seed(ctl)
        iid, token = await _invoke(ctl, seed)
        held.hold_next(_callback_path(iid, token))
        url = held.api_base + _callback_path(iid, token)
        answer = asyncio.create_task(http.post(url, json={"type": 9, "data": MODAL}))
        await asyncio.wait_for(held.reached.wait(), 5)
        summary = await ctl.interaction(iid)
        assert summary["acked"] and not summary["answered"]  # recorded, not yet answered
        with pytest.raises(TimeoutError, match="not answered"):
            await ctl.wait_for_response(iid, within=0.1)
        submit = asyncio.create_task(ctl.submit_modal(iid, {"text": "neon"}))
        await asyncio.sleep(0.2)
        assert not submit.done()  # the user cannot see the modal yet
        held.release.set()
        async with await answer as resp:
            assert resp.status == 204
        submitted = await asyncio.wait_for(submit, 5)
        summary = await ctl.wait_for_response(iid, within=1)
        assert summary["answered"] and summary["modal"]["title"] == "Prompt"
        modal_submit = await ctl.interaction(submitted)
        assert modal_submit["type"] == 5 and not modal_submit["acked"]


async def test_modal_submit_gives_up_when_the_answer_is_never_sent(
    held: HeldFakeDiscord,
) -> None:
    async with FakeDiscordClient(held.base_url) as ctl, aiohttp.ClientSession() as http:
        seed = await _seed(ctl)
        await ctl.settings(answer_wait_seconds=0.2)
        iid, token = await _invoke(ctl, seed)
        held.hold_next(_callback_path(iid, token))
        url = held.api_base + _callback_path(iid, token)
        answer = asyncio.create_task(http.post(url, json={"type": 9, "data": MODAL}))
        await asyncio.wait_for(held.reached.wait(), 5)
        with pytest.raises(ControlError, match=r"not shown yet.*within 0\.2 s"):
            await ctl.submit_modal(iid, {"text": "too early"})
        held.release.set()
        (await answer).close()


async def test_button_press_waits_until_the_message_answer_was_sent(
    held: HeldFakeDiscord,
) -> None:
    async with FakeDiscordClient(held.base_url) as ctl, aiohttp.ClientSession() as http:
        seed = await _seed(ctl)
        bot = Bot(held, http)
        path = f"/channels/{seed.channel_id}/messages"
        held.hold_next(path)
        body = {"content": "panel", "components": [_row(_button("go"))]}
        post = asyncio.create_task(bot.send(seed.channel_id, body))
        await asyncio.wait_for(held.reached.wait(), 5)
        [message] = await ctl.messages(seed.channel_id)
        press = asyncio.create_task(ctl.press_button(seed.user_id, int(message["id"]), "go"))
        await asyncio.sleep(0.2)
        assert not press.done()
        held.release.set()
        status, _ = await post
        assert status == 200
        pressed = await asyncio.wait_for(press, 5)
        assert (await ctl.interaction(pressed))["type"] == 3

        # An edit in flight hides the message's new components until its answer is sent.
        held.hold_next(f"{path}/{message['id']}")
        edit = {"components": [_row(_button("again"))]}
        patch = asyncio.create_task(bot.call("PATCH", f"{path}/{message['id']}", edit))
        await asyncio.wait_for(held.reached.wait(), 5)
        press = asyncio.create_task(ctl.press_button(seed.user_id, int(message["id"]), "again"))
        await asyncio.sleep(0.2)
        assert not press.done()
        held.release.set()
        assert (await patch)[0] == 200
        await asyncio.wait_for(press, 5)


async def test_followup_before_the_callback_answer_was_sent_is_unknown_webhook(
    held: HeldFakeDiscord,
) -> None:
    async with FakeDiscordClient(held.base_url) as ctl, aiohttp.ClientSession() as http:
        seed = await _seed(ctl)
        bot = Bot(held, http)
        iid, token = await _invoke(ctl, seed)
        held.hold_next(_callback_path(iid, token))
        defer = asyncio.create_task(bot.call("POST", _callback_path(iid, token), {"type": 5}))
        await asyncio.wait_for(held.reached.wait(), 5)
        followup = f"/webhooks/{held.application_id}/{token}"
        status, body = await bot.call("POST", followup, {"content": "too soon"})
        assert (status, body["code"]) == (404, rules.UNKNOWN_WEBHOOK)
        held.release.set()
        assert (await defer)[0] == 204
        status, body = await bot.call("POST", followup, {"content": "done"}, wait="true")
        assert status == 200 and body["content"] == "done"


# -- 2. embed links -----------------------------------------------------------------------------


async def test_without_embed_links_embeds_are_dropped_or_refused(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, bot: Bot
) -> None:
    perms = rules.VIEW_CHANNEL | rules.READ_MESSAGE_HISTORY | rules.SEND_MESSAGES
    plain = int((await ctl.create_channel(seed.guild_id, "plain", bot_permissions=perms))["id"])
    embed = {"title": "clip", "description": "ready"}
    status, body = await bot.send(plain, {"embeds": [embed]})
    assert (status, body["code"]) == (403, 50013)
    status, sent = await bot.send(plain, {"content": "your clip", "embeds": [embed]})
    assert status == 200 and sent["embeds"] == []
    assert (await ctl.message(sent["id"]))["embeds"] == []
    path = f"/channels/{plain}/messages/{sent['id']}"
    status, edited = await bot.call("PATCH", path, {"embeds": [embed]})
    assert status == 200 and edited["embeds"] == [] and edited["content"] == "your clip"
    status, body = await bot.call("PATCH", path, {"content": "", "embeds": [embed]})
    assert (status, body["code"]) == (403, 50013)  # nothing but embeds would be left
    status, sent = await bot.send(seed.channel_id, {"embeds": [embed]})  # with EMBED_LINKS
    assert status == 200 and sent["embeds"][0]["title"] == "clip"


async def test_interaction_answers_keep_embeds_without_embed_links(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, bot: Bot
) -> None:
    perms = rules.VIEW_CHANNEL | rules.SEND_MESSAGES
    await ctl.set_channel_permissions(seed.channel_id, perms)
    await ctl.settings(require_registered_commands=False)
    iid, token = await _invoke(ctl, seed)
    body = {"type": 4, "data": {"embeds": [{"title": "clip"}]}}
    assert (await bot.call("POST", _callback_path(iid, token), body))[0] == 204
    assert (await ctl.interaction(iid))["original_message"]["embeds"][0]["title"] == "clip"


# -- 3. locked and archived threads -------------------------------------------------------------


async def _thread(bot: Bot, channel_id: int, **body: Any) -> int:
    status, starter = await bot.send(channel_id, {"content": "job"})
    assert status == 200
    path = f"/channels/{channel_id}/messages/{starter['id']}/threads"
    status, thread = await bot.call("POST", path, {"name": "job", **body})
    assert status == 201, thread
    return int(thread["id"])


async def test_locked_open_thread_needs_manage_threads(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, bot: Bot
) -> None:
    thread = await _thread(bot, seed.channel_id)
    await ctl.update_channel(thread, locked=True)
    status, body = await bot.send(thread, {"content": "progress"})
    assert (status, body["code"]) == (403, 50013)
    perms = await ctl.permissions(seed.channel_id)
    await ctl.set_channel_permissions(seed.channel_id, perms | rules.MANAGE_THREADS)
    assert (await bot.send(thread, {"content": "as a thread manager"}))[0] == 200


async def test_editing_in_an_archived_thread_is_refused_and_keeps_it_archived(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, bot: Bot
) -> None:
    thread = await _thread(bot, seed.channel_id)
    status, msg = await bot.send(thread, {"content": "progress"})
    assert status == 200
    await ctl.update_channel(thread, archived=True)
    status, body = await bot.call(
        "PATCH", f"/channels/{thread}/messages/{msg['id']}", {"content": "done"}
    )
    assert (status, body["code"], body["message"]) == (400, 50083, "Thread is archived")
    [listed] = await ctl.threads(seed.channel_id)
    assert listed["thread_metadata"]["archived"]
    assert (await ctl.message(msg["id"]))["content"] == "progress"


# -- 4. ephemeral channel messages --------------------------------------------------------------


async def test_ephemeral_flag_on_a_channel_message_is_invalid(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, bot: Bot
) -> None:
    status, body = await bot.send(seed.channel_id, {"content": "secret", "flags": 64})
    assert (status, body["code"]) == (400, 50035)
    path, error = _first_error(body["errors"])
    assert path == ["flags"] and error["code"] == "MESSAGE_FLAGS_INVALID"
    assert await ctl.messages(seed.channel_id) == []
    assert [i["errors"] for i in fake.invalid] == [body["errors"]]
    fake.invalid.clear()


# -- 5. form bodies -----------------------------------------------------------------------------

BAD_BODIES: dict[str, tuple[dict[str, Any], list[str], str]] = {
    "six action rows": (
        {"components": [_row(_button(f"b{n}")) for n in range(6)]},
        ["components"],
        "BASE_TYPE_MAX_LENGTH",
    ),
    "duplicate custom_id": (
        {"components": [_row(_button("go")), _row(_button("x"), _button("go"))]},
        ["components", "1", "components", "1", "custom_id"],
        "COMPONENT_CUSTOM_ID_DUPLICATED",
    ),
    "link button without url": (
        {"components": [_row(_button(None, style=5))]},
        ["components", "0", "components", "0", "url"],
        "BASE_TYPE_REQUIRED",
    ),
    "button without custom_id": (
        {"components": [_row(_button(None))]},
        ["components", "0", "components", "0", "custom_id"],
        "BASE_TYPE_REQUIRED",
    ),
    "parse users and a users list": (
        {"content": "hi", "allowed_mentions": {"parse": ["users"], "users": ["1"]}},
        ["allowed_mentions"],
        "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
    ),
    "parse roles and a roles list": (
        {"content": "hi", "allowed_mentions": {"parse": ["roles"], "roles": ["1"]}},
        ["allowed_mentions"],
        "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
    ),
    "blank embed field value": (
        {"embeds": [{"title": "t", "fields": [{"name": "Model", "value": "  "}]}]},
        ["embeds", "0", "fields", "0", "value"],
        "BASE_TYPE_REQUIRED",
    ),
    "empty embed field name": (
        {"embeds": [{"title": "t", "fields": [{"name": "", "value": "gen4"}]}]},
        ["embeds", "0", "fields", "0", "name"],
        "BASE_TYPE_REQUIRED",
    ),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
async def test_bad_message_bodies_are_invalid_form_body_on_every_route(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, bot: Bot, case: str
) -> None:
    body, where, code = BAD_BODIES[case]
    await ctl.settings(require_registered_commands=False)
    status, ok = await bot.send(seed.channel_id, {"content": "fine"})
    assert status == 200
    iid, token = await _invoke(ctl, seed)
    hook = f"/webhooks/{fake.application_id}/{token}"
    attempts = [
        ("POST", f"/channels/{seed.channel_id}/messages", body, []),
        ("PATCH", f"/channels/{seed.channel_id}/messages/{ok['id']}", body, []),
        ("POST", _callback_path(iid, token), {"type": 4, "data": body}, ["data"]),
    ]
    for method, path, sent, prefix in attempts:
        status, answer = await bot.call(method, path, sent)
        assert (status, answer["code"]) == (400, 50035), (method, path)
        assert _first_error(answer["errors"])[0] == prefix + where
        assert _first_error(answer["errors"])[1]["code"] == code
    assert (await bot.call("POST", _callback_path(iid, token), {"type": 5}))[0] == 204
    for method, path in (("POST", hook), ("PATCH", f"{hook}/messages/@original")):
        status, answer = await bot.call(method, path, body)
        assert (status, answer["code"]) == (400, 50035), (method, path)
        assert _first_error(answer["errors"])[0] == where
    assert len(fake.invalid) == 5 and all(i["code"] == 50035 for i in fake.invalid)
    fake.invalid.clear()


async def test_bad_modals_are_invalid_form_body(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, bot: Bot
) -> None:
    await ctl.settings(require_registered_commands=False)
    iid, token = await _invoke(ctl, seed)
    row = MODAL["components"][0]
    too_many = {**MODAL, "components": [row] * 6}
    status, answer = await bot.call(
        "POST", _callback_path(iid, token), {"type": 9, "data": too_many}
    )
    assert (status, answer["code"]) == (400, 50035)
    path, error = _first_error(answer["errors"])
    assert path == ["data", "components"] and error["code"] == "BASE_TYPE_BAD_LENGTH"
    twice = {**MODAL, "components": [row, row]}
    status, answer = await bot.call("POST", _callback_path(iid, token), {"type": 9, "data": twice})
    assert _first_error(answer["errors"])[0] == [
        "data",
        "components",
        "1",
        "components",
        "0",
        "custom_id",
    ]
    assert len(fake.invalid) == 2
    fake.invalid.clear()
    status, _ = await bot.call("POST", _callback_path(iid, token), {"type": 9, "data": MODAL})
    assert status == 204  # refused callbacks do not count as the answer


# -- 6. ephemeral messages and the bot token ----------------------------------------------------


async def test_editing_an_ephemeral_message_with_the_bot_token_is_unknown_message(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, bot: Bot
) -> None:
    await ctl.settings(require_registered_commands=False)
    iid, token = await _invoke(ctl, seed)
    body = {"type": 4, "data": {"content": "only you", "flags": 64}}
    assert (await bot.call("POST", _callback_path(iid, token), body))[0] == 204
    mid = (await ctl.interaction(iid))["original_message"]["id"]
    status, answer = await bot.call(
        "PATCH", f"/channels/{seed.channel_id}/messages/{mid}", {"content": "edited"}
    )
    assert (status, answer["code"]) == (404, rules.UNKNOWN_MESSAGE)
    hook = f"/webhooks/{fake.application_id}/{token}/messages/@original"
    assert (await bot.call("PATCH", hook, {"content": "edited"}))[0] == 200  # its token can


# -- 7. upload limit per file -------------------------------------------------------------------


async def test_the_upload_limit_applies_to_each_file(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, bot: Bot
) -> None:
    await ctl.update_guild(seed.guild_id, upload_limit=4096)
    path = f"/channels/{seed.channel_id}/messages"
    files = [("a.bin", b"a" * 3000), ("b.bin", b"b" * 3000)]
    status, sent = await bot.upload(path, {"content": "two"}, files)
    assert status == 200 and [a["size"] for a in sent["attachments"]] == [3000, 3000]
    status, answer = await bot.upload(path, {"content": "one"}, [("c.bin", b"c" * 5000)])
    assert (status, answer["code"]) == (413, 40005)


# -- 8. threads auto-archive --------------------------------------------------------------------


async def test_threads_archive_after_their_auto_archive_duration_of_inactivity(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, bot: Bot
) -> None:
    hour = await _thread(bot, seed.channel_id, auto_archive_duration=60)
    status, day = await bot.call(
        "POST", f"/channels/{seed.channel_id}/threads", {"name": "day", "type": 11}
    )
    assert status == 201 and day["thread_metadata"]["auto_archive_duration"] == 1440

    def archived(threads: list[Json]) -> dict[str, bool]:
        return {t["id"]: t["thread_metadata"]["archived"] for t in threads}

    await ctl.advance(59 * 60)
    assert (await bot.send(hour, {"content": "still working"}))[0] == 200  # activity
    await ctl.advance(59 * 60)
    assert archived(await ctl.threads()) == {str(hour): False, day["id"]: False}
    await ctl.advance(60)
    status, channel = await bot.call("GET", f"/channels/{hour}")
    assert channel["thread_metadata"]["archived"]
    assert archived(await ctl.threads()) == {str(hour): True, day["id"]: False}
    await ctl.advance(1440 * 60)
    assert archived(await ctl.threads())[day["id"]]
    assert (await bot.send(hour, {"content": "reopens"}))[0] == 200
    assert not archived(await ctl.threads())[str(hour)]


# -- 9. rate limits -----------------------------------------------------------------------------


def test_global_limit_counts_bot_token_requests_only() -> None:
    limiter = rules.RateLimiter()
    limiter.configure(True, limit=100, seconds=60, global_per_second=3)
    route = "/channels/{channel_id}/messages"
    assert [limiter.take("POST", route, f"channel_id={n}") for n in range(3)] == [None] * 3
    over = limiter.take("POST", route, "channel_id=9")
    assert over is not None and over.is_global and 0 < over.retry_after <= 1
    assert limiter.take("POST", "/interactions/{i}/{t}/callback", "", bot=False) is None
    limiter.configure(False)
    assert limiter.take("POST", route, "channel_id=9") is None  # realistic mode only


def test_share_of_per_route_limits_is_seeded() -> None:
    def pattern(seed: int) -> list[bool]:
        limiter = rules.RateLimiter()
        limiter.configure(True, limit=1000, seconds=60, global_per_second=0, share=0.3, seed=seed)
        return [limiter.take("GET", "/x", "", bot=True) is not None for _ in range(100)]

    assert pattern(4) == pattern(4) != pattern(5)
    assert 15 < sum(pattern(4)) < 45
    limiter = rules.RateLimiter()
    limiter.configure(True, share=1.0)
    assert limiter.take("GET", "/webhooks/{a}/{t}", "", bot=False) is None


async def test_global_rate_limit_answers_429_global_except_for_interactions(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, bot: Bot
) -> None:
    await ctl.settings(require_registered_commands=False)
    iid, token = await _invoke(ctl, seed)
    await ctl.rate_limits(limit=100, seconds=60, global_per_second=5)
    statuses = [(await bot.call("GET", "/users/@me"))[0] for _ in range(5)]
    assert statuses == [200] * 5
    headers = {"Authorization": f"Bot {fake.token}"}
    async with bot.http.get(f"{fake.api_base}/users/@me", headers=headers) as resp:
        assert resp.status == 429
        body = await resp.json()
        assert resp.headers["X-RateLimit-Global"] == "true"
        assert resp.headers["X-RateLimit-Scope"] == "global"
        assert resp.headers["Retry-After"] == "1" and "Via" in resp.headers
    assert body["global"] is True and 0 < body["retry_after"] <= 1
    status, _ = await bot.call(
        "POST", _callback_path(iid, token), {"type": 4, "data": {"content": "x"}}
    )
    assert status == 204  # interaction callbacks are not under the global limit


async def test_share_answers_seeded_per_route_429s_with_real_headers(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, bot: Bot
) -> None:
    await ctl.rate_limits(limit=100, seconds=60, share=0.5, share_retry_after=0.25, seed=11)
    draws = random.Random(11)
    expected = [429 if draws.random() < 0.5 else 200 for _ in range(12)]
    headers = {"Authorization": f"Bot {fake.token}"}
    seen: list[int] = []
    for _ in range(12):
        async with bot.http.get(f"{fake.api_base}/users/@me", headers=headers) as resp:
            seen.append(resp.status)
            if resp.status == 429:
                body = await resp.json()
                assert body == {
                    "message": "You are being rate limited.",
                    "retry_after": 0.25,
                    "global": False,
                }
                assert resp.headers["X-RateLimit-Limit"] == "100"
                assert resp.headers["X-RateLimit-Remaining"] == "0"
                assert resp.headers["X-RateLimit-Reset-After"] == "0.250"
                assert resp.headers["X-RateLimit-Scope"] == "user"
                assert resp.headers["X-RateLimit-Bucket"] and resp.headers["X-RateLimit-Reset"]
    assert seen == expected and 429 in seen and 200 in seen
