"""/animate and the message menu answer each member in their own language, while the job's
public status follows the server's."""

from __future__ import annotations

import discord

from cogs.generate import GenerateCog, PromptModal
from tests.cogs.conftest import Harness, png_bytes
from tests.discord_doubles import make_attachment, make_dm_channel, make_member, make_user


async def test_a_refused_attachment_is_explained_in_japanese(harness: Harness) -> None:
    interaction, log = harness.interaction(user=make_member())
    interaction.locale = discord.Locale.japanese
    notes = make_attachment(b"hello", filename="notes.txt", content_type="text/plain")
    await GenerateCog.animate.callback(GenerateCog(harness.bot), interaction, notes, "sea")
    assert log.last == "画像には画像を指定してください。notes.txt は text/plain です。"
    assert await harness.jobs.list_user_jobs(interaction.user.id) == []


async def test_dms_refused_in_spanish(harness: Harness) -> None:
    interaction, log = harness.interaction(
        guild_id=None, channel=make_dm_channel(), user=make_user()
    )
    interaction.locale = discord.Locale.spain_spanish
    await GenerateCog.animate.callback(
        GenerateCog(harness.bot), interaction, make_attachment(png_bytes()), "sea"
    )
    assert log.last == "Crear vídeos por mensaje directo está desactivado. Úsame en un servidor."


async def test_the_reply_is_the_members_and_the_status_the_servers(harness: Harness) -> None:
    await harness.quota.guilds.update(harness.guild_id, 1, locale="ja")
    interaction, log = harness.interaction(user=make_member())
    interaction.locale = discord.Locale.spain_spanish
    await GenerateCog.animate.callback(
        GenerateCog(harness.bot), interaction, make_attachment(png_bytes()), "sea"
    )
    job_id = int(interaction.extras["job_id"])
    assert log.last.startswith(f"El trabajo #{job_id} está en cola. Síguelo aquí: ")
    assert "Unos **25** créditos" in log.last
    ((_, kwargs, _message),) = harness.channel.sent
    assert kwargs["embed"].title == f"アニメート · ジョブ #{job_id}"
    (thread,) = harness.channel.threads_created
    assert thread.name.startswith(f"ジョブ #{job_id} · ")


def test_the_menu_modal_in_japanese() -> None:
    modal = PromptModal(5, "ja")
    assert modal.title == "この画像をアニメート"
    assert modal.prompt.placeholder == "クリップの中で何が起きますか?"
    assert PromptModal(5).title == "Animate this image"


async def test_autocomplete_speaks_the_members_language(harness: Harness) -> None:
    cog = GenerateCog(harness.bot)
    interaction, _ = harness.interaction(namespace={"model": "gen4_turbo"})
    interaction.locale = discord.Locale.japanese
    models = await cog.animate_model_autocomplete(interaction, "")
    assert any(c.name.startswith("Gen-4 Turbo(毎秒 ") for c in models)
    ratios = await cog.ratio_autocomplete(interaction, "")
    assert ratios[0].name == "auto(画像に最も近い形)"
    assert "1280×720(横長)" in [c.name for c in ratios]
    durations = await cog.duration_autocomplete(interaction, "")
    assert durations[0].name == "2 秒(約 10 クレジット)"


async def test_a_damaged_image_is_refused_in_japanese(harness: Harness) -> None:
    interaction, log = harness.interaction(user=make_member())
    interaction.locale = discord.Locale.japanese
    whole = png_bytes()
    damaged = make_attachment(whole[: len(whole) // 2], filename="sea.png")
    await GenerateCog.animate.callback(GenerateCog(harness.bot), interaction, damaged, "sea")
    assert log.last == (
        "この画像は壊れているか不完全なため、読み込めません。"
        "もう一度保存するか書き出してから試してください。"
    )
    assert await harness.jobs.list_user_jobs(interaction.user.id) == []
    assert harness.channel.sent == []


async def test_an_image_given_to_restyle_is_refused_in_spanish(harness: Harness) -> None:
    interaction, log = harness.interaction(user=make_member())
    interaction.locale = discord.Locale.spain_spanish
    image = make_attachment(png_bytes(), filename="clip.mp4", content_type="video/mp4")
    await GenerateCog.restyle.callback(GenerateCog(harness.bot), interaction, image, "x")
    assert log.last == "Ese archivo se llama .mp4 pero en realidad es una imagen PNG, no un vídeo."
    assert await harness.jobs.list_user_jobs(interaction.user.id) == []
