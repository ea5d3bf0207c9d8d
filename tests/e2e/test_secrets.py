"""No secret ever leaves the bot: after a whole flow (a clip delivered, a moderation failure,
a cancel, a refusal, a rerun, /usage and /jobs), neither the Runway key nor the bot token
appears in any line of the bot's log nor in anything the bot sent to Discord: messages
(public and ephemeral, with their embeds and components), interaction callbacks, thread
names and file names."""

from __future__ import annotations

import json

import pytest

from bot.fakediscord.core import DEFAULT_TOKEN
from tests.e2e.harness import (
    RUNWAY_KEY,
    Env,
    Place,
    buttons,
    clip_message,
    job_id_in,
    message_text,
    notice_message,
    png,
    thread_of,
)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

SECRETS = {
    "the Runway key": RUNWAY_KEY,
    "the Runway key without its prefix": RUNWAY_KEY.removeprefix("key_")[:64],
    "the bot token": DEFAULT_TOKEN,
}


def leaks(text: str) -> list[str]:
    return [name for name, secret in SECRETS.items() if secret in text]


async def start_animate(env: Env, place: Place, user: int, prompt: str) -> tuple[int, int]:
    iid = await env.invoke(
        place, user, "animate", {"prompt": prompt, "duration": 2}, [("in.png", png(), "image/png")]
    )
    answer = await env.answer(iid)
    job_id = job_id_in(message_text(answer["followups"][-1]))
    thread = await thread_of(env, place, job_id)
    return job_id, int(thread["id"])


async def test_no_secret_in_any_log_line_or_discord_message(env: Env, place: Place) -> None:
    alice, bob = place.members

    # a clip delivered, then rerun from its button
    done, thread = await start_animate(env, place, alice, "a quiet harbour")
    clip = await clip_message(env, thread)
    await env.settled(done)
    rerun = await env.ctl.press_button(alice, int(clip["id"]), buttons(clip)["Vary (new seed)"])
    await env.settled(job_id_in(await env.reply_text(rerun)))

    # a moderation failure: the notice, with its reason
    failed, thread = await start_animate(env, place, alice, "x [sim:fail=SAFETY.INPUT.TEXT]")
    await notice_message(env, thread, failed)
    await env.settled(failed)

    # a long task cancelled from its status message; another member is refused first
    long, thread = await start_animate(env, place, bob, "slow [sim:seconds=100000]")
    status = await env.ctl.message(thread)  # a thread made from a message has its id
    refused = await env.ctl.press_button(alice, thread, buttons(status)["Cancel"])
    assert "Only the person who started this job" in await env.reply_text(refused)
    cancel = await env.ctl.press_button(bob, thread, buttons(status)["Cancel"])
    assert f"Job #{long}" in await env.reply_text(cancel)
    await env.settled(long)

    # refusals and read-only commands
    bad = await env.invoke(
        place, alice, "animate", {"prompt": "x"}, [("notes.txt", b"hello", "text/plain")]
    )
    assert "must be an image" in await env.reply_text(bad)
    for command in ("usage", "jobs"):
        await env.reply_text(await env.invoke(place, alice, command))

    # Everything the bot sent to Discord, as the fake stored it.
    world = env.fake.world
    sent: list[tuple[str, str]] = []
    for message_id, message in world.messages.items():
        sent.append((f"message {message_id}", json.dumps(message, ensure_ascii=False)))
    for interaction in world.interactions.values():
        sent.append(
            (f"callback to {interaction.id}", json.dumps(interaction.callback, ensure_ascii=False))
        )
    for channel in world.channels.values():
        sent.append((f"channel {channel.id}", json.dumps(channel.to_json(), ensure_ascii=False)))
    for file_id, stored in world.files.items():
        sent.append((f"file {file_id}", stored.filename + " " + (stored.description or "")))
    assert len(sent) > 20, "the flow should have produced plenty of messages"
    found = [(where, leaks(text)) for where, text in sent if leaks(text)]
    assert found == [], found

    # Every line the bot logged, including warnings and tracebacks of the flow above.
    lines = env.bot.log_text().splitlines()
    assert len(lines) > 20, "the bot's log should cover the whole flow"
    assert any(str(done) in line for line in lines), "the log should mention the jobs"
    bad_lines = [(n, leaks(line)) for n, line in enumerate(lines, 1) if leaks(line)]
    assert bad_lines == [], bad_lines

    # ... and the create requests carried the key only where it belongs (the header).
    assert len(env.creates) >= 4
    assert [body for _path, body in env.creates if leaks(json.dumps(body))] == []
