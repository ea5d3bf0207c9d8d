"""Localisation end to end: the registered commands carry their translations, and a server's
public messages (status, clip, failure notice, buttons, thread name) follow its language
(``/runway language``) while each member's own replies stay in the member's language."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.harness import (
    Env,
    Place,
    buttons,
    clip_message,
    job_id_in,
    message_text,
    png,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

Json = Any


async def test_the_registered_commands_are_translated(commands: list[dict[str, Any]]) -> None:
    by_name = {c["name"]: c for c in commands}
    animate = by_name["animate"]
    assert animate["name_localizations"]["ja"] == "アニメート"
    assert (
        animate["description_localizations"]["es-ES"] == "Convierte una imagen en un vídeo corto."
    )
    prompt = next(o for o in animate["options"] if o["name"] == "prompt")
    assert prompt["name_localizations"]["ja"] == "プロンプト"
    menu = next(c for c in commands if c.get("type") == 3)
    assert menu["name_localizations"]["ja"] == "この画像をアニメート"


async def set_language(env: Env, place: Place, language: str) -> None:
    iid = await env.invoke(place, place.owner_id, "runway language", {"language": language})
    await env.reply_text(iid)


async def job_thread(env: Env, place: Place, job_id: int) -> Json:
    """The job's thread, whatever language its name is in."""

    async def find() -> Json:
        for thread in await env.ctl.threads(place.channel_id):
            if f"#{job_id} " in thread["name"]:
                return thread
        return None

    return await wait_for(find, f"the thread of job #{job_id}")


async def test_public_messages_follow_the_servers_language(env: Env, place: Place) -> None:
    alice = place.members[0]
    await set_language(env, place, "ja")
    iid = await env.invoke(
        place,
        alice,
        "animate",
        {"prompt": "夜の海", "duration": 2},
        [("umi.png", png(), "image/png")],
    )
    reply = await env.reply_text(iid)
    assert reply.startswith("Job #"), reply  # the member's own language (en-US) for replies
    job_id = job_id_in(reply)
    thread = await job_thread(env, place, job_id)
    assert thread["name"].startswith(f"ジョブ #{job_id} · "), thread["name"]
    status = await env.ctl.message(int(thread["id"]))
    (embed,) = status["embeds"]
    assert embed["title"] == f"アニメート · ジョブ #{job_id}", embed
    fields = {f["name"] for f in embed.get("fields", [])}
    assert {"モデル", "依頼者"} <= fields, fields

    clip = await clip_message(env, int(thread["id"]))
    assert clip["content"] == f"<@{alice}> クリップができました。", clip["content"]
    assert message_text(clip).count("が完成しました") == 1
    assert list(buttons(clip)) == [
        "バリエーション(新しいシード)",
        "プロンプトを編集",
        "最終フレームから続ける",
        "このクリップをリスタイル",
    ]

    async def finished() -> str | None:
        text = message_text(await env.ctl.message(int(thread["id"])))
        return text if "完了" in text else None

    await wait_for(finished, "the status to read 完了")


async def test_a_failure_notice_in_spanish(env: Env, place: Place) -> None:
    alice = place.members[0]
    await set_language(env, place, "es")
    iid = await env.invoke(
        place,
        alice,
        "animate",
        {"prompt": "algo [sim:fail=SAFETY.INPUT.TEXT]", "duration": 2},
        [("p.png", png(), "image/png")],
    )
    job_id = job_id_in(await env.reply_text(iid))
    thread = await job_thread(env, place, job_id)

    async def notice() -> Json:
        for message in await env.ctl.messages(int(thread["id"])):
            for embed in message.get("embeds") or []:
                if embed.get("title") == f"El trabajo #{job_id} falló":
                    return message
        return None

    found = await wait_for(notice, f"the Spanish notice of job #{job_id}")
    text = message_text(found)
    assert "La moderación de Runway rechazó tu entrada" in text, text
    assert "Los 10 créditos reservados volvieron a tu cuota." in text, text
    assert list(buttons(found)) == ["Editar indicación"]
    usage = await env.usage(place, alice)  # the member's own reply stays in English
    assert usage["Used"] == "0 credits", usage


async def test_back_to_the_servers_own_language(env: Env, place: Place) -> None:
    await set_language(env, place, "ja")
    await set_language(env, place, "server")
    rows = env.db.rows("SELECT locale FROM guild_settings WHERE guild_id = ?", (place.guild_id,))
    assert [r[0] for r in rows] == [None]
    iid = await env.invoke(
        place,
        place.members[0],
        "animate",
        {"prompt": "sea", "duration": 2},
        [("s.png", png(), "image/png")],
    )
    job_id = job_id_in(await env.reply_text(iid))
    thread = await job_thread(env, place, job_id)
    assert thread["name"].startswith(f"Job #{job_id} · "), thread["name"]
    await env.settled(job_id)
