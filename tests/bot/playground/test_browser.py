"""The playground in a real browser (Debian's chromium, driven by Playwright).

A member runs /animate with the bundled sample image, watches the status move, opens the job's
thread and sees the clip play; presses Rerun; the admin sets the member's quota with /quota set;
the member's next /animate is refused. With ``PLAYGROUND_SCREENSHOTS=DIR`` the test saves
``playground-progress.png`` (a job in progress) and ``playground-clip.png`` (a delivered clip)
there: the README's screenshots come from ``PLAYGROUND_SCREENSHOTS=docs``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.playground.samples import sample
from bot.playground.session import Playground

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STEP_MS = 60_000  # a generous bound for one step on a loaded machine; the clip takes ~10 s


def _chromium() -> str | None:
    for path in CHROMIUM_PATHS:
        if Path(path).exists():
            return path
    return shutil.which("chromium")


CHROMIUM = _chromium()
pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no Chromium found (looked for /usr/bin/chromium, chromium-browser and chromium "
        "on PATH; `apt-get install chromium`, as .ci/run does)",
    ),
    pytest.mark.timeout(600),
]

if CHROMIUM is not None:
    from playwright.async_api import Locator, Page, async_playwright, expect
else:  # pragma: no cover
    Locator = Page = object


@pytest.fixture
async def playground(tmp_path: Path) -> AsyncIterator[Playground]:
    running = Playground(tmp_path / "data", port=0)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def page(playground: Playground) -> AsyncIterator[Page]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 800})
            tab = await context.new_page()
            tab.set_default_timeout(STEP_MS)
            expect.set_options(timeout=STEP_MS)
            await tab.goto(playground.url)
            await expect(tab.locator("body[data-ready='1']")).to_be_attached()
            yield tab
        finally:
            await browser.close()


def _screenshots() -> Path | None:
    where = os.environ.get("PLAYGROUND_SCREENSHOTS")
    return Path(where) if where else None


async def _screenshot(page: Page, name: str) -> None:
    where = _screenshots()
    if where is not None:
        where.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(where / name))


async def _run(page: Page, command: str, fill: dict[str, str], pick: dict[str, str]) -> None:
    """Type ``/command`` in the composer, choose it, fill its options and send it."""
    composer = page.get_by_test_id("composer-input")
    await composer.fill("/" + command.split()[0])
    await page.locator(f"[data-testid='command-choice'][data-name='{command}']").click()
    for name, value in fill.items():
        await page.get_by_test_id(f"option-{name}").fill(value)
    for name, value in pick.items():
        await page.get_by_test_id(f"option-{name}").select_option(value)
    await page.get_by_test_id("send").click()


def _status(page: Page) -> Locator:
    """The jobs' public status messages in the channel (an embed titled '... job #N')."""
    return (
        page.get_by_test_id("message")
        .filter(has=page.get_by_test_id("embed-title").filter(has_text=re.compile(r"job #\d+")))
        .filter(has_not=page.get_by_test_id("ephemeral"))
    )


def _ephemeral(page: Page) -> Locator:
    """The answers only the acting user sees ("Only you can see this")."""
    return (
        page.get_by_test_id("messages")
        .get_by_test_id("message")
        .filter(has=page.get_by_test_id("ephemeral"))
    )


async def _act_as(page: Page, role: str, user_id: int, channel_id: int) -> None:
    """Switch to ``role`` in the channel, and wait until the page shows what that user sees."""
    await page.get_by_test_id(f"as-{role}").click()
    await page.get_by_test_id("channel").click()
    await expect(page.locator(f"body[data-shown='{user_id}:{channel_id}']")).to_be_attached()


async def _submit_modal_if_open(page: Page) -> None:
    modal = page.get_by_test_id("modal")
    if await modal.is_visible():
        await page.get_by_test_id("modal-submit").click()


async def test_animate_watch_rerun_and_hit_the_quota(page: Page, playground: Playground) -> None:
    assert playground.seeded is not None
    messages = page.get_by_test_id("messages")

    # The member animates the sample image.
    await _run(
        page, "animate", {"prompt": "waves roll in under the lighthouse"}, {"image": "sample:image"}
    )
    await _submit_modal_if_open(page)  # a cost confirmation, if the bot asks for one
    status = _status(page).first
    await expect(status).to_be_visible()
    embed = status.get_by_test_id("embed-desc").first
    first_text = await embed.inner_text()

    # The status moves (submitted -> rendering with progress -> finished) while we watch.
    await expect(embed).not_to_have_text(first_text)
    message_id = await status.get_attribute("data-id")
    await page.wait_for_function(  # a progress bar, or the end (no Cancel button any more)
        r"""id => { const m = document.querySelector(`[data-id="${id}"]`);
            return m !== null && (/\d+%/.test(m.innerText)
                || !m.querySelector("[data-testid='button']")); }""",
        arg=message_id,
    )
    if re.search(r"\d+%", await embed.inner_text()):  # caught while rendering
        await _screenshot(page, "playground-progress.png")

    # The job's thread holds the clip, and it plays.
    await status.get_by_test_id("thread-chip").click()
    await expect(page.get_by_test_id("chat-title")).to_contain_text(re.compile(r"\S"))
    clip = messages.locator("video[data-testid='clip']").first
    await expect(clip).to_be_attached()
    await page.wait_for_function(
        "() => { const v = document.querySelector(\"video[data-testid='clip']\");"
        " return v !== null && v.readyState >= 1 && v.duration > 0; }"
    )
    duration = await clip.evaluate("v => v.duration")
    assert duration > 0
    await clip.evaluate("v => v.play()")
    await page.wait_for_function(
        "() => document.querySelector(\"video[data-testid='clip']\").currentTime > 0"
    )
    await clip.scroll_into_view_if_needed()
    await _screenshot(page, "playground-clip.png")

    # Rerun (the button under the clip) makes a second job with its own thread.
    jobs_before = await page.get_by_test_id("thread").count()
    await messages.locator("[data-testid='button'][data-custom-id^='rw:rerun:']").first.click()
    await _submit_modal_if_open(page)
    await expect(page.get_by_test_id("thread")).to_have_count(jobs_before + 1)

    # The admin sets the member's limit below what the two jobs took.
    seeded = playground.seeded
    await _act_as(page, "admin", seeded.admin_id, seeded.channel_id)
    answers = _ephemeral(page)
    before = await answers.count()
    await _run(page, "quota set", {"limit": "30"}, {"user": str(seeded.member_id)})
    await expect(answers).to_have_count(before + 1)
    await expect(answers.last).to_contain_text("now has a limit of 30")

    # Over the limit, the member's next /animate is refused, and only the member sees why.
    await _act_as(page, "member", seeded.member_id, seeded.channel_id)
    jobs = await _status(page).count()
    before = await answers.count()
    await _run(page, "animate", {"prompt": "one more"}, {"image": "sample:image"})
    await expect(answers).to_have_count(before + 1)
    await expect(answers.last).to_contain_text(re.compile(r"not enough quota", re.I))
    assert await _status(page).count() == jobs  # no new job was made


async def test_the_message_menu_opens_the_bots_modal_and_starts_a_job(page: Page) -> None:
    """Upload a picture in a plain message, then Apps > "Animate this image": the bot's modal
    asks for a prompt, and submitting it starts a job on that image."""
    await page.locator("#attach-button").click()
    async with page.expect_file_chooser() as chooser:
        await page.get_by_test_id("attach-upload").click()
    picture = sample("image")
    await (await chooser.value).set_files(
        {"name": "my-lighthouse.png", "mimeType": "image/png", "buffer": picture.read()}
    )
    await expect(page.locator("#attach-label")).to_contain_text("my-lighthouse.png")
    await page.get_by_test_id("composer-input").fill("my picture")
    await page.get_by_test_id("send").click()
    posted = page.get_by_test_id("message").filter(has_text="my picture")
    await expect(posted.get_by_test_id("image")).to_be_visible()
    await posted.hover()
    await posted.get_by_test_id("message-apps").click()
    await page.get_by_test_id("menu-item").filter(has_text="Animate this image").click()
    await expect(page.get_by_test_id("modal")).to_be_visible()
    await page.get_by_test_id("modal-input").first.fill("the sun sets slowly")
    await page.get_by_test_id("modal-submit").click()
    await expect(page.get_by_test_id("modal")).to_be_hidden()
    status = _status(page).first
    await expect(status).to_contain_text("the sun sets slowly")
