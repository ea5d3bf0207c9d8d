"""CDN URLs are signed and expire like Discord's; unsupported routes are reported."""

from __future__ import annotations

import aiohttp

from bot.fakediscord import FakeDiscord, FakeDiscordClient, rules
from tests.bot.fakediscord.conftest import Seed


async def test_attachment_urls_are_signed_expire_and_are_refreshed_on_fetch(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed
) -> None:
    posted = await ctl.post_message(
        seed.channel_id, seed.user_id, "in", [("in.png", b"pixels", "image/png")]
    )
    url = posted["attachments"][0]["url"]
    headers = {"Authorization": f"Bot {fake.token}"}
    fetch = f"{fake.api_base}/channels/{seed.channel_id}/messages/{posted['id']}"
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as resp:
            assert resp.status == 200 and await resp.read() == b"pixels"
            assert resp.content_type == "image/png"
        async with http.get(url.split("?")[0]) as unsigned:
            assert unsigned.status == 404
        async with http.get(url.replace("hm=", "hm=0")) as forged:
            assert forged.status == 404
        await ctl.advance(rules.ATTACHMENT_URL_SECONDS + 60)
        async with http.get(url) as expired:
            assert expired.status == 404
        async with http.get(fetch, headers=headers) as resp:
            fresh = (await resp.json())["attachments"][0]["url"]
        assert fresh != url
        async with http.get(fresh) as resp:
            assert resp.status == 200


async def test_unsupported_routes_are_recorded_as_fake_errors(fake: FakeDiscord) -> None:
    headers = {"Authorization": f"Bot {fake.token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{fake.api_base}/guilds/1/bans/2", headers=headers) as resp,
    ):
        assert resp.status == 404
        assert (await resp.json())["message"] == "404: Not Found"
    assert fake.errors == ["unsupported route: POST /guilds/1/bans/2"]
    fake.errors.clear()  # expected here; the fixture fails the test on leftovers


async def test_missing_bot_token_is_401(fake: FakeDiscord, seed: Seed) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{fake.api_base}/channels/{seed.channel_id}") as resp,
    ):
        assert resp.status == 401
        assert await resp.json() == {"message": "401: Unauthorized", "code": 0}


async def test_dm_channels_are_opened_once_per_user_and_checked(
    fake: FakeDiscord, seed: Seed
) -> None:
    headers = {"Authorization": f"Bot {fake.token}"}
    url = f"{fake.api_base}/users/@me/channels"
    async with aiohttp.ClientSession() as http:
        answers = []
        for _ in range(2):
            async with http.post(
                url, headers=headers, json={"recipient_id": str(seed.user_id)}
            ) as r:
                assert r.status == 200
                answers.append(await r.json())
        async with http.post(url, headers=headers, json={"recipient_id": "not a snowflake"}) as r:
            assert r.status == 400 and (await r.json())["code"] == 50035
        async with http.post(url, headers=headers, json={}) as r:
            assert r.status == 400 and "recipient_id" in (await r.json())["errors"]
        async with http.post(url, headers=headers, json={"recipient_id": "999"}) as r:
            assert r.status == 404 and (await r.json())["code"] == rules.UNKNOWN_USER
    first, again = answers
    assert first == again and first["type"] == 1
    assert [u["id"] for u in first["recipients"]] == [str(seed.user_id)]
    codes = [e["errors"]["recipient_id"]["_errors"][0]["code"] for e in fake.invalid]
    assert codes == ["STRING_TYPE_REGEX", "BASE_TYPE_REQUIRED"]
    fake.invalid.clear()  # expected here; the fixture fails the test on leftovers


async def test_the_bot_can_post_in_its_dm_channel_unless_the_user_closed_dms(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed
) -> None:
    headers = {"Authorization": f"Bot {fake.token}"}
    assert await ctl.direct_messages(seed.user_id) == {"channel_id": None, "open": True}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{fake.api_base}/users/@me/channels",
            headers=headers,
            json={"recipient_id": str(seed.user_id)},
        ) as r:
            dm_id = (await r.json())["id"]
        assert (await ctl.direct_messages(seed.user_id))["channel_id"] == dm_id
        messages = f"{fake.api_base}/channels/{dm_id}/messages"
        async with http.post(messages, headers=headers, json={"content": "hello"}) as r:
            assert r.status == 200
            posted = await r.json()
        assert posted["channel_id"] == dm_id and "guild_id" not in posted
        async with http.get(f"{fake.api_base}/channels/{dm_id}", headers=headers) as r:
            channel = await r.json()
        assert channel["type"] == 1 and "guild_id" not in channel
        assert [u["id"] for u in channel["recipients"]] == [str(seed.user_id)]

        form = aiohttp.FormData()
        form.add_field("payload_json", '{"content": "big"}', content_type="application/json")
        big = b"\0" * (rules.DEFAULT_UPLOAD_LIMIT + 1)
        form.add_field("files[0]", big, filename="big.mp4", content_type="video/mp4")
        async with http.post(messages, headers=headers, data=form) as r:
            assert r.status == 413  # a DM has Discord's default upload limit

        await ctl.direct_messages(seed.user_id, open=False)
        async with http.post(messages, headers=headers, json={"content": "again"}) as r:
            assert r.status == 403 and (await r.json())["code"] == 50007
    assert [m["content"] for m in await ctl.messages(int(dm_id))] == ["hello"]
    assert await ctl.direct_messages(seed.user_id) == {"channel_id": dm_id, "open": False}
