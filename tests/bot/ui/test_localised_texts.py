"""The Discord layer in the reader's language: public job messages and buttons in the
server's, errors, refusals and confirmations in the member's."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any
from unittest.mock import MagicMock

import discord
import pytest
from discord import app_commands

from bot.catalog import default_catalog
from bot.domain import Job, JobError, JobKind, JobParams, JobState, QuotaExceeded, QuotaStatus
from bot.i18n import t
from bot.ports import StatusUpdate
from bot.ui.embeds import (
    BOT_FAILURES,
    failure_embed,
    over_quota_text,
    refund_line,
    result_embed,
    status_embed,
)
from bot.ui.errors import NotAdmin, NotOwner, user_message
from bot.ui.permissions import missing_permission_text
from bot.ui.posting import is_status_message
from bot.ui.views import failure_view, job_view, result_view

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
GEN4 = next(m for m in default_catalog() if m.id == "gen4_turbo")


def job(state: JobState = JobState.QUEUED, **changes: object) -> Job:
    base = Job(
        id=12,
        kind=JobKind.ANIMATE,
        state=state,
        user_id=77,
        guild_id=5,
        channel_id=6,
        prompt="a fox",
        params=JobParams(model="gen4_turbo", ratio="1280:720", duration=5, seed=3),
        created_at=T0,
        updated_at=T0,
        estimated_credits=25.0,
        quota_amount=25.0,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def names(embed: discord.Embed) -> list[str]:
    return [str(f.name) for f in embed.fields]


def labels(view: discord.ui.View | None) -> list[str]:
    assert view is not None
    return [str(getattr(getattr(item, "item", item), "label", "")) for item in view.children]


def test_the_status_reads_in_the_servers_language() -> None:
    queued = status_embed(
        StatusUpdate(job=job(), queue_position=2), model=GEN4, now=T0, locale="ja"
    )
    assert queued.title == "アニメート · ジョブ #12"
    assert (queued.description or "").startswith("待機中:**2** 番目")
    assert names(queued)[:4] == ["モデル", "解像度", "長さ", "シード"]
    assert "依頼者" in names(queued) and queued.footer.text == "ジョブ #12"
    english = status_embed(StatusUpdate(job=job(), queue_position=2), model=GEN4, now=T0)
    assert english.title == "Animate · job #12" and "Requested by" in names(english)
    message = MagicMock(spec=discord.Message)
    message.embeds, message.content, message.components = [queued], "", []
    assert is_status_message(message, job())  # found again whatever its language


def test_the_clip_and_its_notes_in_spanish() -> None:
    done = job(JobState.SUCCEEDED, charged_credits=25.0, ratio_auto=True)
    embed = result_embed(done, model=GEN4, resized=(12_400_000, 327_000), locale="es")
    assert embed.title == "Animar · el trabajo #12 está listo"
    description = embed.description or ""
    assert "Se recodificó de 12.4 MB a 327 KB" in description
    assert "La resolución 1280×720 la eligió `auto`" in description
    assert "Créditos cobrados" in names(embed)


def test_a_failure_notice_uses_the_failure_family_in_other_languages() -> None:
    failed = job(
        JobState.FAILED,
        error_code="SAFETY.INPUT.TEXT",
        error_text="Runway's safety filter refused the prompt. Please rephrase it.",
        refunded=True,
    )
    ja = failure_embed(failed, locale="ja")
    assert ja.title == "ジョブ #12 は失敗しました"
    assert "コンテンツ審査が入力" in (ja.description or "")
    assert "あなたのクォータに戻りました" in (ja.description or "")
    en = failure_embed(failed)
    assert "safety filter refused the prompt" in (en.description or "")  # the stored words


def test_refund_lines_name_whose_quota() -> None:
    refunded = job(JobState.CANCELLED, refunded=True)
    assert refund_line(refunded, "credits", owner=77) == (
        "The 25 credits reserved for it went back to <@77>'s quota."
    )
    assert refund_line(refunded, "credits", owner=77, locale="ja") == (
        "このジョブ用に確保した 25 クレジット は <@77> のクォータに戻りました。"
    )
    kept = job(JobState.FAILED)
    assert refund_line(kept, "jobs", locale="es") == "Sigue contando 25 trabajos en tu cuota."


def test_over_quota_says_today_in_every_language() -> None:
    status = QuotaStatus(
        unit="credits",
        limit=100.0,
        blocked=False,
        used=80.0,
        reserved=0.0,
        bonus=0.0,
        source="config default",
        period="day",
        resets_at=T0,
    )
    exc = QuotaExceeded("over", status=status, needed=25)
    assert "**80** of **100** credits today" in over_quota_text(exc)
    assert "本日は **100** クレジット のうち **80** を使用済み" in over_quota_text(exc, "ja")
    assert "has usado **80** de **100** créditos hoy" in over_quota_text(exc, "es")


def test_buttons_read_in_the_servers_language() -> None:
    assert labels(job_view(job(), "ja")) == ["キャンセル"]
    done = job(JobState.SUCCEEDED)
    assert labels(result_view(done, "es")) == [
        "Variar (nueva semilla)",
        "Editar indicación",
        "Continuar desde el último fotograma",
        "Reestilizar este vídeo",
    ]
    failed = job(JobState.FAILED, error_code="INTERNAL.X")
    assert labels(failure_view(failed, "ja")) == ["再試行"]
    assert labels(result_view(done)) == [
        "Vary (new seed)",
        "Edit prompt",
        "Continue from last frame",
        "Restyle this clip",
    ]


@pytest.mark.parametrize(
    ("error", "locale", "expected"),
    [
        (NotAdmin(), "ja", "この操作には **サーバー管理** 権限が必要です。"),
        (NotOwner(), "es-ES", "Solo los propietarios del bot pueden usar este comando."),
        (app_commands.NoPrivateMessage(), "ja", "このコマンドはサーバー内でのみ使えます。"),
        (NotAdmin("custom words"), "ja", "custom words"),
    ],
)
def test_refusals_read_in_the_members_language(error: Any, locale: str, expected: str) -> None:
    assert user_message(error, locale) == expected


def test_a_job_error_inside_a_command_error_reads_in_the_members_language() -> None:
    wrapped = app_commands.CommandInvokeError(MagicMock(), JobError.of("job.finished"))
    assert user_message(wrapped, "es-419") == "Este trabajo ya terminó."
    assert user_message(wrapped) == "This job has already finished."


def test_missing_permissions_in_japanese() -> None:
    text = missing_permission_text(["Embed Links", "Attach Files"], locale="ja")
    assert text.startswith("このチャンネルで **Embed Links**と**Attach Files** 権限がありません")


@pytest.mark.parametrize("code", sorted(BOT_FAILURES | {"THIRD_PARTY.X", "INTERNAL.Y"}))
def test_every_known_failure_has_its_own_words_in_japanese(code: str) -> None:
    failed = job(JobState.FAILED, error_code=code, error_text="English words from the worker.")
    text = failure_embed(failed, locale="ja").description or ""
    assert "English words" not in text
    assert text.split("\n\n")[0] != t("failure.generic", "ja") or code == "INTERNAL.Y"
    assert "English words from the worker." in (failure_embed(failed).description or "")


def test_who_cancelled_reads_in_the_servers_language() -> None:
    cancelled = job(JobState.CANCELLED, error_text="Cancelled by an admin.", refunded=True)
    assert "管理者がキャンセルしました。" in (
        failure_embed(cancelled, locale="ja").description or ""
    )
    assert "Cancelled by an admin." in (failure_embed(cancelled).description or "")


async def test_the_job_service_records_a_cancel_the_notice_can_translate(engine: Any) -> None:
    from bot.ui.embeds import CANCELLED_BY
    from tests.bot.conftest import new_animate

    mine = await engine.jobs.create(new_animate(user_id=1))
    theirs = await engine.jobs.create(new_animate(user_id=2))
    by_self = await engine.jobs.cancel(mine.id, actor_id=1, actor_is_admin=False)
    by_admin = await engine.jobs.cancel(theirs.id, actor_id=9, actor_is_admin=True)
    assert CANCELLED_BY[by_self.error_text or ""] == "you"
    assert CANCELLED_BY[by_admin.error_text or ""] == "admin"
