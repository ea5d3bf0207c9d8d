"""A real discord.py 2.7 bot driven end to end against the fake."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from bot.fakediscord import FakeDiscord, FakeDiscordClient, rules
from bot.fakediscord.client import ControlError, InvalidRequestsError
from tests.bot.fakediscord.conftest import Seed, running

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@dataclass
class Probe:
    """What the test bot saw, and what its Discord calls raised."""

    errors: asyncio.Queue[discord.HTTPException] = field(default_factory=asyncio.Queue)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    threads: list[discord.Thread] = field(default_factory=list)
    messages: list[discord.Message] = field(default_factory=list)
    kept: list[discord.Interaction] = field(default_factory=list)
    filesize_limits: list[int] = field(default_factory=list)


class PromptModal(discord.ui.Modal, title="Prompt"):
    prompt: discord.ui.TextInput[PromptModal] = discord.ui.TextInput(
        label="Prompt", custom_id="prompt", max_length=100
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"prompt={self.prompt.value}", ephemeral=True)


class Panel(discord.ui.View):
    @discord.ui.button(label="Open", custom_id="panel:open")
    async def open(
        self, interaction: discord.Interaction, button: discord.ui.Button[Panel]
    ) -> None:
        await interaction.response.send_modal(PromptModal())

    @discord.ui.button(label="Done", custom_id="panel:done")
    async def done(
        self, interaction: discord.Interaction, button: discord.ui.Button[Panel]
    ) -> None:
        await interaction.response.edit_message(content="done", view=None)


def make_bot(probe: Probe) -> commands.Bot:
    # guild_ready_timeout: discord.py waits this long after the last GUILD_CREATE before READY.
    bot = commands.Bot(
        command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05
    )

    @bot.tree.command(name="animate", description="Animate an image")
    async def animate(
        inter: discord.Interaction, image: discord.Attachment, prompt: str, model: str = "gen4"
    ) -> None:
        probe.filesize_limits.append(inter.filesize_limit)
        await inter.response.defer(thinking=True)
        data = await image.read()
        await inter.followup.send(
            f"{image.filename} {len(data)} {prompt} {model}",
            file=discord.File(io.BytesIO(data[::-1]), "result.png"),
        )

    @animate.autocomplete("model")
    async def models(inter: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        names = ["gen4_turbo", "gen3a_turbo", "act_two"]
        return [app_commands.Choice(name=n, value=n) for n in names if current in n]

    @bot.tree.command(name="slow", description="Answers only when released")
    async def slow(inter: discord.Interaction) -> None:
        probe.started.set()
        await probe.release.wait()
        try:
            await inter.response.send_message("late")
        except discord.HTTPException as error:
            probe.errors.put_nowait(error)

    @bot.tree.command(name="keep", description="Defers and leaves the rest to the test")
    async def keep(inter: discord.Interaction) -> None:
        await inter.response.defer()
        probe.kept.append(inter)

    @bot.tree.command(name="big", description="Uploads a file of the given size")
    async def big(inter: discord.Interaction, kilobytes: int) -> None:
        await inter.response.defer()
        try:
            blob = io.BytesIO(b"\0" * (kilobytes * 1024))
            await inter.followup.send(file=discord.File(blob, "big.mp4"))
        except discord.HTTPException as error:
            probe.errors.put_nowait(error)
            await inter.followup.send("too big")

    @bot.tree.command(name="swap", description="Replies with a file, then swaps it")
    async def swap(inter: discord.Interaction) -> None:
        await inter.response.send_message("v1", file=discord.File(io.BytesIO(b"one"), "one.txt"))
        await inter.edit_original_response(
            content="v2", attachments=[discord.File(io.BytesIO(b"two!"), "two.txt")]
        )

    @bot.tree.command(name="panel", description="A message with buttons")
    async def panel(inter: discord.Interaction) -> None:
        await inter.response.send_message("panel", view=Panel())

    @bot.tree.command(name="quota", description="Admins only")
    @app_commands.default_permissions(manage_guild=True)
    async def quota(inter: discord.Interaction) -> None:
        allowed = inter.permissions.manage_guild
        await inter.response.send_message("ok" if allowed else "admins only", ephemeral=True)

    admin = app_commands.Group(name="admin", description="Admin tools")
    limits = app_commands.Group(name="limit", description="Limits", parent=admin)

    @limits.command(name="user", description="Set a member's limit")
    async def limit_user(inter: discord.Interaction, member: discord.Member, limit: int) -> None:
        roles = ",".join(r.name for r in member.roles if not r.is_default())
        await inter.response.send_message(f"{member.name} [{roles}] {limit}")

    @limits.command(name="role", description="Set a role's limit")
    async def limit_role(inter: discord.Interaction, role: discord.Role, limit: float) -> None:
        await inter.response.send_message(f"{role.name} {limit}")

    bot.tree.add_command(admin)

    class Picker(discord.ui.View):
        @discord.ui.select(
            custom_id="pick:model",
            options=[discord.SelectOption(label=m) for m in ("gen4_turbo", "act_two")],
        )
        async def pick(self, inter: discord.Interaction, select: discord.ui.Select[Picker]) -> None:
            await inter.response.send_message(f"picked {select.values[0]}")

    @bot.tree.command(name="pick", description="A select menu")
    async def pick(inter: discord.Interaction) -> None:
        await inter.response.send_message("choose", view=Picker())

    @bot.tree.context_menu(name="Restyle")
    async def restyle(inter: discord.Interaction, message: discord.Message) -> None:
        await inter.response.send_message(f"restyle {message.id} {message.content}")

    @bot.event
    async def on_thread_create(thread: discord.Thread) -> None:
        probe.threads.append(thread)

    @bot.event
    async def on_message(message: discord.Message) -> None:
        probe.messages.append(message)

    return bot


@pytest.fixture
def probe() -> Probe:
    return Probe()


async def _synced(bot: commands.Bot) -> None:
    await bot.tree.sync()


async def test_connects_with_stream_compression_and_sees_guild(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, probe: Probe
) -> None:
    async with running(make_bot(probe), fake) as bot:
        guild = bot.get_guild(seed.guild_id)
        assert guild is not None and guild.name == "Test Guild"
        assert [c.name for c in guild.text_channels] == ["general"]
        assert guild.member_count == 3  # owner, alice, the bot
        assert guild.get_member(seed.user_id) is None  # no GUILD_MEMBERS intent: only the bot
        assert guild.me is not None and guild.me.id == fake.application_id
        assert bot.application_id == fake.application_id
        connect = next(e for e in await ctl.gateway_log() if e["dir"] == "connect")
        # zlib-stream here; zstd-stream where zstandard is installed.
        asked = discord.utils._ActiveDecompressionContext.COMPRESSION_TYPE
        assert connect["query"] == {"v": "10", "encoding": "json", "compress": asked}
        assert bot.latency < 5  # heartbeats were ACKed
    await ctl.assert_no_invalid_requests()


async def test_sync_then_slash_command_with_attachment_defer_and_followup(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, probe: Probe
) -> None:
    async with running(make_bot(probe), fake) as bot:
        with pytest.raises(ControlError, match="not registered"):
            await ctl.invoke_command(seed.user_id, seed.guild_id, seed.channel_id, "animate")
        await _synced(bot)
        names = {c["name"] for c in (await ctl.state())["global_commands"]}
        assert names == {
            "animate",
            "slow",
            "keep",
            "big",
            "panel",
            "quota",
            "swap",
            "admin",
            "pick",
            "Restyle",
        }

        iid = await ctl.invoke_command(
            seed.user_id,
            seed.guild_id,
            seed.channel_id,
            "animate",
            {"prompt": "a cat"},
            [("cat.png", PNG, "image/png")],  # fills the command's attachment option
        )
        result = await ctl.wait_for_followups(iid)
        assert result["callback_type"] == 5
        followup = result["followups"][0]
        assert followup["content"] == f"cat.png {len(PNG)} a cat gen4"
        assert followup["id"] == result["original_message"]["id"]  # replaced the "thinking" one
        assert not followup["flags"] & (1 << 7)
        [attachment] = followup["attachments"]
        assert attachment["filename"] == "result.png"
        assert attachment["content_type"] == "image/png"
        async with aiohttp.ClientSession() as session, session.get(attachment["url"]) as resp:
            assert await resp.read() == PNG[::-1]
        assert await ctl.file(attachment["id"]) == PNG[::-1]
        assert probe.filesize_limits == [rules.DEFAULT_UPLOAD_LIMIT]
    await ctl.assert_no_invalid_requests()


async def test_autocomplete_returns_the_bots_choices(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, probe: Probe
) -> None:
    async with running(make_bot(probe), fake) as bot:
        await _synced(bot)
        choices = await ctl.autocomplete(
            seed.user_id, seed.guild_id, seed.channel_id, "animate", {"model": "turbo"}, "model"
        )
        assert [c["value"] for c in choices] == ["gen4_turbo", "gen3a_turbo"]
    await ctl.assert_no_invalid_requests()


async def test_channel_message_with_file_and_threads(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, probe: Probe
) -> None:
    async with running(make_bot(probe), fake) as bot:
        channel = bot.get_channel(seed.channel_id)
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send("clip", file=discord.File(io.BytesIO(b"mp4data"), "out.mp4"))
        [stored] = await ctl.messages(seed.channel_id)
        assert stored["id"] == str(sent.id)
        assert stored["attachments"][0]["size"] == 7
        assert stored["attachments"][0]["content_type"] == "video/mp4"

        thread = await sent.create_thread(name="job 1")
        assert thread.id == sent.id
        in_thread = await thread.send("progress")
        edited = await in_thread.edit(content="done")
        assert edited.content == "done"
        private = await channel.create_thread(
            name="private", type=discord.ChannelType.private_thread
        )
        threads = await ctl.threads(seed.channel_id)
        assert {(t["name"], t["type"]) for t in threads} == {("job 1", 11), ("private", 12)}
        await ctl.wait_until(lambda: asyncio.sleep(0, len(probe.threads)), lambda n: n == 2)
        assert {t.id for t in probe.threads} == {thread.id, private.id}
        assert (await ctl.message(in_thread.id))["content"] == "done"
    await ctl.assert_no_invalid_requests()


async def test_answer_after_three_seconds_is_unknown_interaction(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, probe: Probe
) -> None:
    async with running(make_bot(probe), fake) as bot:
        await _synced(bot)
        iid = await ctl.invoke_command(seed.user_id, seed.guild_id, seed.channel_id, "slow")
        await asyncio.wait_for(probe.started.wait(), 5)
        await ctl.advance(3.1)
        probe.release.set()
        error = await asyncio.wait_for(probe.errors.get(), 5)
        assert isinstance(error, discord.NotFound)
        assert error.code == 10062
        summary = await ctl.interaction(iid)
        assert not summary["acked"]
        assert summary["rejected"][0]["code"] == 10062


async def test_second_callback_is_already_acknowledged(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, probe: Probe
) -> None:
    async with running(make_bot(probe), fake) as bot:
        await _synced(bot)
        iid = await ctl.invoke_command(seed.user_id, seed.guild_id, seed.channel_id, "panel")
        summary = await ctl.wait_for_response(iid)
        url = f"{fake.api_base}/interactions/{iid}/{summary['token']}/callback"
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json={"type": 4, "data": {"content": "again"}}) as resp:
                assert resp.status == 400
                assert (await resp.json())["code"] == 40060
            async with session.post(url.replace(summary["token"], "nope"), json={"type": 5}) as r:
                assert r.status == 404
                assert (await r.json())["code"] == 10062


async def test_uploads_over_the_guild_limit_fail_with_40005(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, probe: Probe
) -> None:
    await ctl.update_guild(seed.guild_id, upload_limit=4096)
    async with running(make_bot(probe), fake) as bot:
        await _synced(bot)
        iid = await ctl.invoke_command(
            seed.user_id, seed.guild_id, seed.channel_id, "big", {"kilobytes": 5}
        )
        error = await asyncio.wait_for(probe.errors.get(), 5)
        assert error.status == 413 and error.code == 40005
        result = await ctl.wait_for_followups(iid)
        assert result["followups"][0]["content"] == "too big"

        channel = bot.get_channel(seed.channel_id)
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises(discord.HTTPException) as raised:
            await channel.send(file=discord.File(io.BytesIO(b"x" * 5000), "a.bin"))
        assert raised.value.code == 40005
        await channel.send(file=discord.File(io.BytesIO(b"x" * 4000), "a.bin"))
    await ctl.assert_no_invalid_requests()


async def test_missing_permissions_fail_with_50013(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, probe: Probe
) -> None:
    readonly = rules.VIEW_CHANNEL | rules.READ_MESSAGE_HISTORY
    quiet = await ctl.create_channel(seed.guild_id, "quiet", bot_permissions=readonly)
    hidden = await ctl.create_channel(seed.guild_id, "hidden", bot_permissions=0)
    no_files = await ctl.create_channel(
        seed.guild_id, "no-files", bot_permissions=readonly | rules.SEND_MESSAGES
    )
    async with running(make_bot(probe), fake) as bot:
        quiet_ch = bot.get_channel(int(quiet["id"]))
        assert isinstance(quiet_ch, discord.TextChannel)
        assert not quiet_ch.permissions_for(quiet_ch.guild.me).send_messages  # same view locally
        with pytest.raises(discord.Forbidden) as raised:
            await quiet_ch.send("hi")
        assert raised.value.code == 50013
        msg = await bot.get_channel(seed.channel_id).send("starter")  # type: ignore[union-attr]
        await ctl.set_channel_permissions(seed.channel_id, readonly | rules.SEND_MESSAGES)
        with pytest.raises(discord.Forbidden) as raised:
            await msg.create_thread(name="t")
        assert raised.value.code == 50013
        files_ch = bot.get_channel(int(no_files["id"]))
        assert isinstance(files_ch, discord.TextChannel)
        await files_ch.send("text is fine")
        with pytest.raises(discord.Forbidden) as raised:
            await files_ch.send(file=discord.File(io.BytesIO(b"x"), "x.txt"))
        assert raised.value.code == 50013
        with pytest.raises(discord.Forbidden) as raised:
            await bot.http.send_message(int(hidden["id"]), params=_params("hi"))
        assert raised.value.code == 50001


def _params(content: str) -> discord.http.MultipartParameters:
    return discord.http.handle_message_parameters(content=content)


async def test_rate_limit_429_is_retried_by_discord_py(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, probe: Probe
) -> None:
    async with running(make_bot(probe), fake) as bot:
        channel = bot.get_channel(seed.channel_id)
        assert isinstance(channel, discord.TextChannel)
        await ctl.rate_limit(
            "/channels/{channel_id}/messages", method="POST", count=2, retry_after=0.05
        )
        await channel.send("after the limit")
        posts = [c for c in await ctl.calls() if c["method"] == "POST" and "messages" in c["path"]]
        assert [c["status"] for c in posts] == [429, 429, 200]
        assert posts[0]["response"]["retry_after"] == 0.05
        assert [m["content"] for m in await ctl.messages(seed.channel_id)] == ["after the limit"]


async def test_nonce_with_enforce_nonce_deduplicates(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, probe: Probe
) -> None:
    async with running(make_bot(probe), fake) as bot:
        channel = bot.get_channel(seed.channel_id)
        assert isinstance(channel, discord.TextChannel)
        first = await channel.send("once", nonce=424242)
        second = await channel.send("once", nonce=424242)
        third = await channel.send("other", nonce=5)
        assert first.id == second.id != third.id
        assert len(await ctl.messages(seed.channel_id)) == 2
    await ctl.assert_no_invalid_requests()


async def test_invalid_body_is_rejected_and_recorded(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed
) -> None:
    url = f"{fake.api_base}/channels/{seed.channel_id}/messages"
    headers = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json={"content": 5, "tts": "yes"}, headers=headers) as resp:
            assert resp.status == 400
            body = await resp.json()
        async with session.post(url, data=b"{not json", headers=headers) as bad_json:
            assert bad_json.status == 400
            assert (await bad_json.json())["code"] == 50109
    assert body["code"] == 50035 and body["message"] == "Invalid Form Body"
    assert body["errors"]["content"]["_errors"][0]["code"] == "BASE_TYPE_BAD_TYPE"
    assert "tts" in body["errors"]
    [recorded] = await ctl.invalid_requests()
    assert recorded["path"] == f"/channels/{seed.channel_id}/messages"
    assert await ctl.messages(seed.channel_id) == []
    with pytest.raises(InvalidRequestsError):
        await ctl.assert_no_invalid_requests()
    await ctl.clear_logs()


async def test_button_modal_and_edit_message(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, probe: Probe
) -> None:
    async with running(make_bot(probe), fake) as bot:
        await _synced(bot)
        iid = await ctl.invoke_command(seed.user_id, seed.guild_id, seed.channel_id, "panel")
        panel = (await ctl.wait_for_response(iid))["original_message"]
        assert panel["content"] == "panel"

        opened = await ctl.press_button(seed.user_id, int(panel["id"]), "panel:open")
        modal = (await ctl.wait_for_response(opened))["modal"]
        assert modal["title"] == "Prompt"
        with pytest.raises(ControlError, match="no inputs"):
            await ctl.submit_modal(opened, {"prompt": "x", "nope": "x"})
        submitted = await ctl.submit_modal(opened, {"prompt": "neon city"})
        answer = await ctl.wait_for_response(submitted)
        assert answer["original_message"]["content"] == "prompt=neon city"
        assert answer["ephemeral"]

        done = await ctl.press_button(seed.user_id, int(panel["id"]), "panel:done")
        assert (await ctl.wait_for_response(done))["callback_type"] == 7
        edited = await ctl.message(panel["id"])
        assert edited["content"] == "done" and edited["components"] == []
    await ctl.assert_no_invalid_requests()


async def test_message_context_menu(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, probe: Probe
) -> None:
    async with running(make_bot(probe), fake) as bot:
        await _synced(bot)
        posted = await ctl.post_message(
            seed.channel_id, seed.user_id, "my video", [("v.mp4", b"vid", "video/mp4")]
        )
        await ctl.wait_until(lambda: asyncio.sleep(0, len(probe.messages)), lambda n: n >= 1)
        assert probe.messages[0].attachments[0].filename == "v.mp4"
        iid = await ctl.message_command(seed.user_id, "Restyle", int(posted["id"]))
        answer = await ctl.wait_for_response(iid)
        assert answer["original_message"]["content"] == f"restyle {posted['id']} my video"
    await ctl.assert_no_invalid_requests()


async def test_interaction_token_expires_after_15_minutes(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, probe: Probe
) -> None:
    async with running(make_bot(probe), fake) as bot:
        await _synced(bot)
        await ctl.invoke_command(seed.user_id, seed.guild_id, seed.channel_id, "keep")
        await ctl.wait_until(lambda: asyncio.sleep(0, len(probe.kept)), lambda n: n == 1)
        inter = probe.kept[0]
        await ctl.advance(14 * 60)
        await inter.edit_original_response(content="still in time")
        await ctl.advance(61)
        with pytest.raises(discord.HTTPException) as raised:
            await inter.followup.send("too late")
        assert raised.value.status == 401 and raised.value.code == 50027


async def test_gateway_reconnect_resumes_and_replays(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, probe: Probe
) -> None:
    async with running(make_bot(probe), fake) as bot:
        resumed = asyncio.Event()

        async def on_resumed() -> None:
            resumed.set()

        bot.add_listener(on_resumed, "on_resumed")
        assert await ctl.gateway_reconnect() == 1
        await asyncio.wait_for(resumed.wait(), 10)
        await ctl.post_message(seed.channel_id, seed.user_id, "after resume")
        await ctl.wait_until(lambda: asyncio.sleep(0, len(probe.messages)), lambda n: n == 1)
        ops = [e["op"] for e in await ctl.gateway_log() if e["dir"] == "in"]
        assert ops.count(2) == 1 and ops.count(6) == 1


async def test_scaled_time_expires_the_ack_window(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, probe: Probe
) -> None:
    async with running(make_bot(probe), fake) as bot:
        await _synced(bot)
        await ctl.set_time_scale(1000.0)
        await ctl.invoke_command(seed.user_id, seed.guild_id, seed.channel_id, "slow")
        await asyncio.wait_for(probe.started.wait(), 5)
        await asyncio.sleep(0.01)  # 10 simulated seconds
        probe.release.set()
        error = await asyncio.wait_for(probe.errors.get(), 5)
        assert isinstance(error, discord.NotFound) and error.code == 10062


async def test_random_rate_limits_are_all_retried(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, probe: Probe
) -> None:
    async with running(make_bot(probe), fake) as bot:
        channel = bot.get_channel(seed.channel_id)
        assert isinstance(channel, discord.TextChannel)
        await ctl.random_rate_limits(0.4, retry_after=0.01)
        for n in range(6):
            await channel.send(f"m{n}")
        statuses = [c["status"] for c in await ctl.calls() if c["method"] == "POST"]
        assert 429 in statuses and statuses.count(200) == 6
        contents = [m["content"] for m in await ctl.messages(seed.channel_id)]
        assert contents == [f"m{n}" for n in range(6)]


async def test_mentions_follow_allowed_mentions(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, probe: Probe
) -> None:
    async with running(make_bot(probe), fake) as bot:
        channel = bot.get_channel(seed.channel_id)
        assert isinstance(channel, discord.TextChannel)
        text = f"<@{seed.user_id}> <@{seed.owner_id}> your clip @everyone"
        only_alice = discord.AllowedMentions(
            everyone=False, roles=False, users=[discord.Object(seed.user_id)]
        )
        quiet = await channel.send(text, allowed_mentions=only_alice)
        loud = await channel.send(text)
        stored_quiet = await ctl.message(quiet.id)
        assert [u["id"] for u in stored_quiet["mentions"]] == [str(seed.user_id)]
        assert stored_quiet["mention_everyone"] is False
        stored_loud = await ctl.message(loud.id)
        assert {u["id"] for u in stored_loud["mentions"]} == {str(seed.user_id), str(seed.owner_id)}
        assert stored_loud["mention_everyone"] is True

        thread = await quiet.create_thread(name="job")
        await thread.add_user(discord.Object(seed.user_id))
        [listed] = await ctl.threads(seed.channel_id)
        assert listed["member_count"] == 2
        with pytest.raises(discord.HTTPException) as raised:
            await channel.send(embeds=[discord.Embed(description="x" * 4000)] * 2)
        assert raised.value.code == 50035
    [invalid] = await ctl.invalid_requests()
    assert "6000" in invalid["errors"]["embeds"]["_errors"][0]["message"]
    await ctl.clear_logs()


async def test_moderator_actions_the_bot_must_cope_with(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, probe: Probe
) -> None:
    async with running(make_bot(probe), fake) as bot:
        channel = bot.get_channel(seed.channel_id)
        assert isinstance(channel, discord.TextChannel)
        status = await channel.send("status")
        thread = await status.create_thread(name="job")
        await ctl.update_channel(thread.id, archived=True)
        await thread.send("unarchives")  # sending to an archived, unlocked thread reopens it
        assert not (await ctl.threads())[0]["thread_metadata"]["archived"]
        await ctl.update_channel(thread.id, archived=True, locked=True)
        with pytest.raises(discord.HTTPException) as raised:
            await thread.send("locked")
        assert raised.value.code == 50083

        history = [m.content async for m in channel.history(limit=10)]
        assert history == ["status"]
        await ctl.delete_message(status.id)
        with pytest.raises(discord.NotFound) as missing:
            await status.edit(content="gone")
        assert missing.value.code == 10008
        await ctl.delete_channel(seed.channel_id)
        with pytest.raises(discord.NotFound) as unknown:
            await channel.send("nowhere")
        assert unknown.value.code == 10003
        await ctl.wait_until(
            lambda: asyncio.sleep(0, bot.get_channel(seed.channel_id)), lambda c: c is None
        )
    await ctl.assert_no_invalid_requests()


async def test_default_member_permissions_hide_commands_unless_overridden(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, probe: Probe
) -> None:
    async with running(make_bot(probe), fake) as bot:
        await _synced(bot)
        with pytest.raises(ControlError, match="cannot see /quota"):
            await ctl.invoke_command(seed.user_id, seed.guild_id, seed.channel_id, "quota")
        owner = await ctl.invoke_command(seed.owner_id, seed.guild_id, seed.channel_id, "quota")
        assert (await ctl.wait_for_response(owner))["original_message"]["content"] == "ok"
        await ctl.settings(enforce_default_member_permissions=False)  # a server override
        user = await ctl.invoke_command(seed.user_id, seed.guild_id, seed.channel_id, "quota")
        answer = await ctl.wait_for_response(user)
        assert answer["original_message"]["content"] == "admins only"
        assert answer["ephemeral"]

        channel = bot.get_channel(seed.channel_id)
        assert isinstance(channel, discord.TextChannel)
        async with channel.typing():
            thread = await channel.create_thread(name="t", type=discord.ChannelType.public_thread)
        archived = await thread.edit(archived=True, name="t (done)")
        assert archived.archived and archived.name == "t (done)"
        fetched = await bot.fetch_user(seed.user_id)
        assert fetched.name == "alice"
    await ctl.assert_no_invalid_requests()


async def test_reply_with_file_then_replace_attachments(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, probe: Probe
) -> None:
    async with running(make_bot(probe), fake) as bot:
        await _synced(bot)
        iid = await ctl.invoke_command(seed.user_id, seed.guild_id, seed.channel_id, "swap")
        await ctl.wait_until(
            lambda: ctl.interaction(iid),
            lambda d: d["original_message"] and d["original_message"]["content"] == "v2",
        )
        message = (await ctl.interaction(iid))["original_message"]
        assert [a["filename"] for a in message["attachments"]] == ["two.txt"]
        assert await ctl.file(message["attachments"][0]["id"]) == b"two!"
        assert message["type"] == 20 and message["interaction_metadata"]["name"] == "swap"


async def test_realistic_rate_limits_are_respected_by_discord_py(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, probe: Probe
) -> None:
    async with running(make_bot(probe), fake) as bot:
        channel = bot.get_channel(seed.channel_id)
        assert isinstance(channel, discord.TextChannel)
        await ctl.realistic_rate_limits(limit=3, per_seconds=0.2)
        for n in range(7):
            await channel.send(f"m{n}")
        posts = [c for c in await ctl.calls() if c["method"] == "POST"]
        assert len(await ctl.messages(seed.channel_id)) == 7
        assert all(c["status"] == 200 for c in posts)  # it waited on X-RateLimit-Remaining: 0
        url = f"{fake.api_base}/channels/{seed.channel_id}/messages"
        headers = {"Authorization": f"Bot {fake.token}"}
        await ctl.realistic_rate_limits(limit=2, per_seconds=30)
        async with aiohttp.ClientSession(headers=headers) as http:
            statuses = []
            for n in range(3):
                async with http.post(url, json={"content": f"raw{n}"}) as resp:
                    statuses.append(resp.status)
                    last = resp
            assert statuses == [200, 200, 429]
            assert last.headers["X-RateLimit-Remaining"] == "0"
            assert float(last.headers["X-RateLimit-Reset-After"]) <= 30


async def test_subcommand_groups_with_member_and_role_options_and_selects(
    fake: FakeDiscord, ctl: FakeDiscordClient, seed: Seed, probe: Probe
) -> None:
    vip = await ctl.create_role(seed.guild_id, "VIP")
    await ctl.add_member(seed.guild_id, seed.user_id, [int(vip["id"])])
    async with running(make_bot(probe), fake) as bot:
        await _synced(bot)
        by_user = await ctl.invoke_command(
            seed.owner_id,
            seed.guild_id,
            seed.channel_id,
            "admin limit user",
            {"member": seed.user_id, "limit": 7},
        )
        answer = await ctl.wait_for_response(by_user)
        assert answer["original_message"]["content"] == "alice [VIP] 7"
        by_role = await ctl.invoke_command(
            seed.owner_id,
            seed.guild_id,
            seed.channel_id,
            "admin limit role",
            {"role": int(vip["id"]), "limit": 2.5},
        )
        assert (await ctl.wait_for_response(by_role))["original_message"]["content"] == "VIP 2.5"
        with pytest.raises(ControlError, match="no subcommand"):
            await ctl.invoke_command(seed.owner_id, seed.guild_id, seed.channel_id, "admin nope")
        with pytest.raises(ControlError, match="no option"):
            await ctl.invoke_command(
                seed.owner_id, seed.guild_id, seed.channel_id, "admin limit role", {"x": 1}
            )

        shown = await ctl.invoke_command(seed.user_id, seed.guild_id, seed.channel_id, "pick")
        menu = (await ctl.wait_for_response(shown))["original_message"]
        picked = await ctl.press_button(seed.user_id, int(menu["id"]), "pick:model", ["act_two"])
        assert (await ctl.wait_for_response(picked))["original_message"]["content"] == (
            "picked act_two"
        )
    await ctl.assert_no_invalid_requests()
