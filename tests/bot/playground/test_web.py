"""The playground API against a running fake Discord (no bot: what the fake itself answers)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import command_payloads
from bot.config import parse_settings
from bot.fakediscord import FakeDiscord, FakeDiscordClient
from bot.playground.samples import sample
from bot.playground.session import seed
from bot.playground.web import Seeded, make_app


@pytest.fixture(scope="module")
def commands() -> list[dict[str, Any]]:
    """The bot's own command payloads, as ``sync-commands --dry-run`` prints them."""
    return asyncio.run(command_payloads(parse_settings({}, environ={})))


class World:
    def __init__(self, fake: FakeDiscord, ctl: FakeDiscordClient, seeded: Seeded, http: TestClient):  # type: ignore[type-arg]
        self.fake, self.ctl, self.seeded, self.http = fake, ctl, seeded, http

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.http.get(path) as resp:
            return resp.status, await resp.json()

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        async with self.http.post(path, json=body) as resp:
            return resp.status, await resp.json()

    def as_member(self, **body: Any) -> dict[str, Any]:
        return {"user_id": str(self.seeded.member_id), **body}


@pytest.fixture
async def world(commands: list[dict[str, Any]]) -> AsyncIterator[World]:
    async with FakeDiscord() as fake, FakeDiscordClient(fake.base_url) as ctl:
        seeded = await seed(ctl)
        await ctl.register_commands(commands)
        app = make_app(ctl, seeded, answer_seconds=0.2)
        async with TestClient(TestServer(app)) as http:
            yield World(fake, ctl, seeded, http)


async def test_world_names_the_people_the_commands_and_the_samples(
    world: World, commands: list[dict[str, Any]]
) -> None:
    status, data = await world.get("/api/world")
    assert status == 200
    assert data["seeded"]["channel_id"] == str(world.seeded.channel_id)
    assert [(p["role"], p["username"]) for p in data["people"]] == [
        ("member", "Milo"),
        ("admin", "Ada"),
    ]
    names = [c["name"] for c in data["commands"]]
    assert {"animate", "quota", "Animate this image"} <= set(names)
    assert names == [c["name"] for c in commands]
    assert {s["name"] for s in data["samples"]} == {"image", "clip"}
    assert data["guild"]["name"] == "Runway Playground"


async def test_the_page_and_its_files_are_served(world: World) -> None:
    async with world.http.get("/") as resp:
        assert resp.status == 200
        html = await resp.text()
    assert '<script src="/static/playground.js">' in html
    for path in ("/static/playground.js", "/static/playground.css"):
        async with world.http.get(path) as resp:
            assert resp.status == 200, path
    async with world.http.get("/samples/image") as resp:
        assert resp.status == 200
        assert resp.content_type == "image/png"
        assert await resp.read() == sample("image").read()
    async with world.http.get("/samples/nope") as resp:
        assert resp.status == 404


async def test_a_plain_message_with_a_sample_lands_in_the_channel(world: World) -> None:
    status, posted = await world.post(
        "/api/message", world.as_member(content="look", attachments=[{"sample": "image"}])
    )
    assert status == 200
    status, data = await world.get(
        f"/api/messages?channel_id={world.seeded.channel_id}&user_id={world.seeded.member_id}"
    )
    assert status == 200
    [message] = data["messages"]
    assert message["id"] == posted["id"]
    assert message["content"] == "look"
    assert message["attachments"][0]["filename"] == sample("image").filename
    stored = await world.ctl.file(message["attachments"][0]["id"])
    assert stored == sample("image").read()


async def test_an_uploaded_file_is_decoded(world: World) -> None:
    data = b"\x89PNG not really"
    upload = {"filename": "mine.png", "content_type": "image/png"}
    upload["data_b64"] = base64.b64encode(data).decode()
    status, posted = await world.post("/api/message", world.as_member(attachments=[upload]))
    assert status == 200
    assert await world.ctl.file(posted["attachments"][0]["id"]) == data


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"user_id": "1", "content": "hi"}, "neither the member nor the admin"),
        ({"user_id": "abc", "content": "hi"}, "user_id must be a number"),
        ({"content": "hi"}, "missing or unknown: user_id"),
        ({"content": "   "}, "write something or attach a file"),
        ({"attachments": [{"sample": "nope"}]}, "no sample 'nope'"),
        ({"attachments": [{"filename": "x", "data_b64": "***"}]}, "data_b64 is not base64"),
        ({"attachments": ["x"]}, "each attachment must be an object"),
    ],
)
async def test_bad_messages_are_refused_and_change_nothing(
    world: World, body: dict[str, Any], reason: str
) -> None:
    if "user_id" not in body and body != {"content": "hi"}:
        body = world.as_member(**body)
    status, data = await world.post("/api/message", body)
    assert status == 400
    assert reason in data["error"]
    assert await world.ctl.messages(world.seeded.channel_id) == []


async def test_a_body_that_is_not_json_is_refused(world: World) -> None:
    headers = {"Content-Type": "application/json"}
    async with world.http.post("/api/message", data=b"{nope", headers=headers) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"] == "the body is not JSON"


async def test_messages_only_from_the_playground_channel_and_its_threads(world: World) -> None:
    other = await world.ctl.create_channel(world.seeded.guild_id, "elsewhere")
    status, data = await world.get(
        f"/api/messages?channel_id={other['id']}&user_id={world.seeded.member_id}"
    )
    assert status == 400
    assert "not the playground's channel" in data["error"]


async def test_ephemeral_answers_are_shown_only_to_their_user(world: World) -> None:
    seeded = world.seeded
    iid = await world.ctl.invoke_command(
        seeded.member_id, seeded.guild_id, seeded.channel_id, "usage"
    )
    token = (await world.ctl.interaction(iid))["token"]
    # Answer as the bot would: an ephemeral message for the member.
    async with world.http.session.post(
        f"{world.fake.api_base}/interactions/{iid}/{token}/callback",
        json={"type": 4, "data": {"content": "only for Milo", "flags": 64}},
    ) as resp:
        assert resp.status == 204
    views = {}
    for who in (seeded.member_id, seeded.admin_id):
        status, data = await world.get(
            f"/api/messages?channel_id={seeded.channel_id}&user_id={who}"
        )
        assert status == 200
        views[who] = [m["content"] for m in data["messages"]]
    assert views == {seeded.member_id: ["only for Milo"], seeded.admin_id: []}


async def test_a_command_nobody_answers_times_out_clearly(world: World) -> None:
    status, data = await world.post("/api/command", world.as_member(name="usage"))
    assert status == 504
    assert data["error"] == "the bot did not answer within 0.2 s"


async def test_the_fake_refusing_a_command_is_passed_on(world: World) -> None:
    # /quota needs Manage Server; the member does not have it (the fake enforces it).
    status, data = await world.post("/api/command", world.as_member(name="quota show"))
    assert status == 409
    assert "permission" in data["error"].lower()
    status, data = await world.post("/api/command", world.as_member(name="nosuch"))
    assert status == 409


async def test_channels_lists_the_channel_and_its_threads(world: World) -> None:
    seeded = world.seeded
    posted = await world.ctl.post_message(seeded.channel_id, seeded.member_id, "start")
    async with world.http.session.post(
        f"{world.fake.api_base}/channels/{seeded.channel_id}/messages/{posted['id']}/threads",
        json={"name": "Job #1"},
        headers={"Authorization": f"Bot {world.fake.token}"},
    ) as resp:
        assert resp.status == 201, await resp.text()
    status, data = await world.get("/api/channels")
    assert status == 200
    assert data["channel"]["name"] == "general"
    assert [t["name"] for t in data["threads"]] == ["Job #1"]


async def test_events_announce_each_change(world: World) -> None:
    async with world.http.get("/api/events") as resp:
        assert resp.headers["Content-Type"] == "text/event-stream"
        first = await resp.content.readline()
        assert first.startswith(b"data: ")
        assert await resp.content.readline() == b"\n"
        await world.ctl.post_message(world.seeded.channel_id, world.seeded.member_id, "hi")
        line = await asyncio.wait_for(resp.content.readline(), 10)
        assert line.startswith(b"data: ")
        assert int(line[6:]) > int(first[6:])


async def test_only_json_posts_addressed_to_this_machine_are_served(world: World) -> None:
    body = json.dumps({"user_id": str(world.seeded.member_id), "content": "from elsewhere"})
    # A form or text/plain post (what another site's page may send without CORS) is refused.
    async with world.http.post(
        "/api/message", data=body, headers={"Content-Type": "text/plain"}
    ) as resp:
        assert resp.status == 415
    # So is a request for another host name (a DNS-rebinding page).
    async with world.http.get("/api/world", headers={"Host": "evil.example:8080"}) as resp:
        assert resp.status == 421
    assert await world.ctl.messages(world.seeded.channel_id) == []
