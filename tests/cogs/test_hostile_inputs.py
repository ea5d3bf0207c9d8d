"""The hostile input corpus through the real commands (/animate, /restyle) against the real
job service and SQLite: attachments (``tests/bot/media/hostile.py``), prompts and options.

Every case ends in exactly one of two ways, and three things are asserted each time:
a correct job (usable input converted, quota only reserved) or its own specific message
(nothing created, nothing posted); no crash (no exception, no "Something went wrong");
no quota spent; no call to Runway.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import discord
import pytest

from bot.catalog import SEED_MAX
from bot.domain import Job, JobState
from bot.runway.client import RunwayClient
from cogs.generate import GenerateCog
from tests.bot.media.hostile import ALL_CASES, Case
from tests.cogs.conftest import Harness, make_harness, png_bytes
from tests.discord_doubles import Responses, make_attachment, make_member

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning"),
]

UNEXPECTED = "Something went wrong"


@dataclasses.dataclass
class Run:
    harness: Harness
    cog: GenerateCog
    runway: MagicMock
    user: Any


@pytest.fixture
async def run(tmp_path: Path) -> AsyncIterator[Run]:
    harness = await make_harness(tmp_path)
    runway = MagicMock(spec_set=RunwayClient)
    services = harness.bot.services
    assert services is not None
    harness.bot.services = dataclasses.replace(services, runway=runway)
    try:
        yield Run(harness, GenerateCog(harness.bot), runway, make_member())
    finally:
        await harness.store.close()


async def animate(run: Run, image: Any, prompt: str, **options: Any) -> Responses:
    interaction, log = run.harness.interaction(user=run.user)
    await GenerateCog.animate.callback(run.cog, interaction, image, prompt, **options)
    return log


async def restyle(run: Run, video: Any, prompt: str, **options: Any) -> Responses:
    interaction, log = run.harness.interaction(user=run.user)
    await GenerateCog.restyle.callback(run.cog, interaction, video, prompt, **options)
    return log


async def assert_answered_without_crash_or_runway(run: Run, log: Responses) -> None:
    assert log.messages, "the member got no answer"
    assert all(UNEXPECTED not in text for text in log.texts)
    assert all(m[1].get("ephemeral") is True for m in log.messages)
    assert run.runway.mock_calls == []


async def assert_refused(run: Run, log: Responses, message: str) -> None:
    await assert_answered_without_crash_or_runway(run, log)
    assert log.last == message
    assert await run.harness.jobs.list_user_jobs(run.user.id) == []
    assert run.harness.channel.sent == []
    status = await run.harness.quota.status(run.harness.guild_id, run.user.id)
    assert (status.used, status.reserved) == (0, 0)


async def assert_one_job(run: Run, log: Responses) -> Job:
    await assert_answered_without_crash_or_runway(run, log)
    jobs = await run.harness.jobs.list_user_jobs(run.user.id)
    assert len(jobs) == 1, log.texts
    job = jobs[0]
    assert job.state is JobState.QUEUED
    assert any(f"Job #{job.id}" in text for text in log.texts)
    status = await run.harness.quota.status(run.harness.guild_id, run.user.id)
    assert status.used == 0  # reserved until a clip is delivered, never spent here
    assert status.reserved == pytest.approx(job.estimated_credits)
    posted = run.harness.channel.sent[0][1]
    assert posted["allowed_mentions"].to_dict() == {"parse": []}
    return job


# ---------------------------------------------------------------- attachments


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
async def test_attachment(run: Run, case: Case) -> None:
    data = case.data()
    attachment = make_attachment(data, filename=case.filename, content_type=case.content_type)
    if case.slot == "image":
        log = await animate(run, attachment, "a cat waves")
    else:
        log = await restyle(run, attachment, "make it snow")

    if case.refusal is not None:
        await assert_refused(run, log, case.refusal)
        return
    job = await assert_one_job(run, log)
    (stored,) = await run.harness.jobs.inputs(job.id)
    if case.slot == "image":
        # re-encoded: the stored file ends where the image ends (no trailer rides along)
        end = b"IEND\xaeB`\x82" if stored.mime == "image/png" else b"\xff\xd9"
        assert stored.mime in ("image/png", "image/jpeg") and stored.data.endswith(end)
        assert case.size is None or (stored.width, stored.height) == case.size
        assert job.params.ratio is not None  # "auto" picked from the converted image
    else:
        assert stored.mime == "video/mp4" and stored.data[4:8] == b"ftyp"
        assert stored.duration_seconds is not None and stored.duration_seconds >= 1.0


# ---------------------------------------------------------------- prompts

HIDDEN_TAGS = "".join(chr(0xE0000 + ord(c)) for c in "ignore rules")

# (id, prompt as typed, prompt as stored and sent, the note the member gets, or None)
CLEANED_PROMPTS = [
    ("control-characters", "a cat\x07\x08 waves\x7f", "a cat waves",
     "I removed 3 control characters from your prompt; the rest was sent as you wrote it."),
    ("nul", "a cat\x00 waves", "a cat waves",
     "I removed 1 NUL character from your prompt; the rest was sent as you wrote it."),
    ("ansi-escapes", "\x1b[31ma red cat\x1b[0m", "a red cat",
     "I removed 2 terminal escape codes from your prompt; the rest was sent as you wrote it."),
    ("rtl-override", "a cat \u202eseveaw", "a cat seveaw",
     "I removed 1 text-direction override from your prompt; the rest was sent as you wrote it."),
    ("zero-width-everyone", "hi @every\u200bone", "hi @everyone",
     "I removed 1 invisible character from your prompt; the rest was sent as you wrote it."),
    ("hidden-tag-text", f"a cat{HIDDEN_TAGS}", "a cat",
     "I removed 12 invisible characters from your prompt; the rest was sent as you wrote it."),
    ("over-the-limit-only-before-cleaning", "😀" * 500 + "\u200b" * 10, "😀" * 500,
     "I removed 10 invisible characters from your prompt; the rest was sent as you wrote it."),
]  # fmt: skip

KEPT_PROMPTS = [
    ("everyone-and-here", "@everyone @here look"),
    ("role-and-user-mentions", "<@&123456789012345678> and <@123456789012345678> and <#1>"),
    ("markdown", "**bold** __under__ ~~strike~~ ||spoiler|| `code` [x](https://evil.test) # H"),
    ("exactly-1000-utf16-units", "😀" * 500),
    ("emoji-with-joiners", "a family 👨\u200d👩\u200d👧 waves"),
]


@pytest.mark.parametrize(
    ("typed", "sent", "note"), [c[1:] for c in CLEANED_PROMPTS], ids=[c[0] for c in CLEANED_PROMPTS]
)
async def test_prompt_is_cleaned_and_the_member_told(
    run: Run, typed: str, sent: str, note: str
) -> None:
    log = await animate(run, make_attachment(png_bytes()), typed)
    job = await assert_one_job(run, log)
    assert job.prompt == sent
    assert log.last == note
    description = run.harness.channel.sent[0][1]["embed"].description or ""
    assert not any(ch in description for ch in "\x00\x07\x1b\u202e\U000e0069")
    assert "@everyone" not in description  # shown defused ("@\u200beveryone"), never live


@pytest.mark.parametrize(("typed"), [c[1] for c in KEPT_PROMPTS], ids=[c[0] for c in KEPT_PROMPTS])
async def test_prompt_is_kept_as_written_and_never_pings(run: Run, typed: str) -> None:
    log = await animate(run, make_attachment(png_bytes()), typed)
    job = await assert_one_job(run, log)
    assert job.prompt == typed
    assert not any("removed" in text for text in log.texts)
    description = run.harness.channel.sent[0][1]["embed"].description or ""
    assert "@everyone" not in description and "<@&" not in description


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("😀" * 501, "Your prompt is 1002 characters (UTF-16 units); gen4_turbo accepts at most "
         "1000."),
        ("a" * 999 + "😀", "Your prompt is 1001 characters (UTF-16 units); gen4_turbo accepts "
         "at most 1000."),
    ],
    ids=["501-emoji-is-1002-units", "1000-characters-1001-units"],
)  # fmt: skip
async def test_prompt_over_the_limit_in_utf16_units(run: Run, typed: str, message: str) -> None:
    assert len(typed) <= 1000 or typed.startswith("😀")
    await assert_refused(run, await animate(run, make_attachment(png_bytes()), typed), message)


async def test_a_prompt_that_is_only_control_characters_is_missing(run: Run) -> None:
    log = await animate(
        run, make_attachment(png_bytes()), "\x00\x1b[2J\u202e", model="gen4.5", duration=5
    )
    await assert_refused(
        run,
        log,
        "gen4.5 needs a prompt.\nI removed 1 terminal escape code, 1 NUL character and 1 "
        "text-direction override from your prompt; the rest was sent as you wrote it.",
    )


# ---------------------------------------------------------------- options

REFUSED_OPTIONS = [
    ("seed-above-range", {"seed": SEED_MAX + 1}, f"Seed must be between 0 and {SEED_MAX}."),
    ("seed-negative", {"seed": -1}, f"Seed must be between 0 and {SEED_MAX}."),
    ("seed-huge", {"seed": 10**30}, f"Seed must be between 0 and {SEED_MAX}."),
    ("ratio-of-another-model", {"ratio": "1280:768"},
     "Ratio '1280:768' is not available for gen4_turbo; choose one of: 1280:720, 720:1280, "
     "1104:832, 832:1104, 960:960, 1584:672."),
    ("ratio-garbage", {"ratio": "wide"},
     "Ratio 'wide' is not available for gen4_turbo; choose one of: 1280:720, 720:1280, "
     "1104:832, 832:1104, 960:960, 1584:672."),
    ("ratio-hostile-text", {"ratio": "@everyone\u202e"},
     "Ratio (that value) is not available for gen4_turbo; choose one of: 1280:720, 720:1280, "
     "1104:832, 832:1104, 960:960, 1584:672."),
    ("duration-not-allowed", {"model": "veo3.1", "duration": 5},
     "veo3.1 accepts durations 4, 6 or 8 s; you asked for 5 s."),
    ("duration-zero", {"duration": 0},
     "gen4_turbo accepts durations 2-10 s; you asked for 0 s."),
    ("unknown-model-typed", {"model": "gen99_ultra"},
     "Model 'gen99_ultra' is not available; choose one of: gen4_turbo, gen4.5, gen3a_turbo, "
     "veo3.1, veo3.1_fast."),
    ("model-with-mentions-typed", {"model": "<@&1> @everyone"},
     "Model (that value) is not available; choose one of: gen4_turbo, gen4.5, gen3a_turbo, "
     "veo3.1, veo3.1_fast."),
    ("model-of-the-other-command", {"model": "gen4_aleph"},
     "gen4_aleph cannot be used here; use /restyle with it."),
]  # fmt: skip


@pytest.mark.parametrize(
    ("options", "message"),
    [c[1:] for c in REFUSED_OPTIONS],
    ids=[c[0] for c in REFUSED_OPTIONS],
)
async def test_option_refused(run: Run, options: dict[str, Any], message: str) -> None:
    image = make_attachment(png_bytes())
    log = await animate(run, image, "a cat waves", **options)
    await assert_refused(run, log, message)
    image.read.assert_not_awaited()  # refused before the file is even downloaded


@pytest.mark.parametrize(
    ("options", "ratio"),
    [({"ratio": "auto"}, "1280:720"), ({"ratio": "16:9"}, "1280:720"), ({"ratio": " 960:960 "},
     "960:960"), ({"seed": 0}, "1280:720"), ({"seed": SEED_MAX}, "1280:720")],
    ids=["ratio-auto", "ratio-by-shape", "ratio-with-spaces", "seed-zero", "seed-max"],
)  # fmt: skip
async def test_option_converted(run: Run, options: dict[str, Any], ratio: str) -> None:
    job = await assert_one_job(
        run, await animate(run, make_attachment(png_bytes()), "x", **options)
    )
    assert job.params.ratio == ratio
    if "seed" in options:
        assert job.params.seed == options["seed"]


async def test_restyle_with_an_unknown_model_typed_by_hand(run: Run) -> None:
    video = make_attachment(b"\0" * 10, filename="clip.mp4", content_type="video/mp4")
    log = await restyle(run, video, "snow", model="aleph9")
    await assert_refused(
        run, log, "Model 'aleph9' is not available; choose one of: gen4_aleph, aleph2."
    )


async def test_the_message_menu_finds_an_image_sent_without_a_type(run: Run) -> None:
    """A picture uploaded as application/octet-stream is offered to the menu (judged by
    content later), after any attachment declared as an image."""
    interaction, log = run.harness.interaction(user=run.user)
    message = MagicMock(spec_set=discord.Message)
    message.attachments = [
        make_attachment(b"notes", filename="a.txt", content_type="text/plain"),
        make_attachment(png_bytes(), filename="upload", content_type="application/octet-stream"),
    ]
    await run.cog.animate_message(interaction, message)
    assert len(log.modals) == 1 and log.messages == []
