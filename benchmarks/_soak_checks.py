"""The soak's end checks: what the database, the fake Discord's messages and interactions, the
simulator's creates and the bot's logs say once the run has drained."""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

from bot.fakediscord.server import DEFAULT_TOKEN
from tests.e2e.harness import FINAL_STATES, RUNWAY_KEY, job_is_settled

if TYPE_CHECKING:
    from _soak_world import World

ACK_WINDOW_S = 3.0
SHOW = 15  # job ids listed per violation


def _nonce_job(message: dict[str, Any], prefix: str) -> int | None:
    nonce = str(message.get("nonce") or "")
    match = re.fullmatch(rf"{prefix}-(\d+)", nonce)
    return int(match.group(1)) if match else None


def _has_clip(message: dict[str, Any]) -> bool:
    return any(str(a.get("filename", "")).endswith(".mp4") for a in message["attachments"])


def _live_cancel(message: dict[str, Any], job_id: int) -> bool:
    return any(
        item.get("custom_id") == f"rw:cancel:{job_id}" and not item.get("disabled")
        for row in message.get("components") or []
        for item in row.get("components") or []
    )


def report(world: World, drain: dict[str, Any]) -> dict[str, Any]:
    """The figures, and ``violations``: one line per broken promise (empty when all hold)."""
    rows = world.db.rows("SELECT * FROM jobs ORDER BY id")
    messages = list(world.fake.world.messages.values())
    finals: dict[int, list[dict[str, Any]]] = defaultdict(list)
    statuses: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for message in messages:
        job = _nonce_job(message, "rwjob")
        if job is not None:
            finals[job].append(message)
        job = _nonce_job(message, "rwstatus")
        if job is not None:
            statuses[job].append(message)

    by_state = Counter(str(r["state"]) for r in rows)
    stuck = [int(r["id"]) for r in rows if not job_is_settled(r)]
    stuck_why = [
        {
            k: r[k]
            for k in (
                "id",
                "state",
                "quota_state",
                "next_poll_at",
                "lease_owner",
                "remote_cancel",
                "provider_task_id",
                "error_code",
            )
        }
        for r in rows
        if not job_is_settled(r)
    ]
    # A job cancelled because its status message could not be posted is told so in the
    # answer to the command itself ("Job #N was cancelled and not charged.").
    replies = _reply_texts(world)
    told_in_reply = sorted(
        int(r["id"])
        for r in rows
        if r["state"] == "cancelled"
        and not finals[r["id"]]
        and any(f"Job #{r['id']} was cancelled" in text for text in replies)
    )
    lost = [
        int(r["id"])
        for r in rows
        if r["state"] not in FINAL_STATES
        or (not finals[r["id"]] and int(r["id"]) not in told_in_reply)
    ]
    posted_twice = sorted(j for j, ms in finals.items() if len(ms) > 1)
    status_twice = sorted(j for j, ms in statuses.items() if len(ms) > 1)
    final_ids = {int(r["id"]) for r in rows if r["state"] in FINAL_STATES}
    stray_live = sorted(
        j for j, ms in statuses.items() if j in final_ids and any(_live_cancel(m, j) for m in ms)
    )

    # Runway tasks per job: creates answered 200 per prompt tag vs the jobs carrying that tag.
    jobs_by_tag: dict[int, list[int]] = defaultdict(list)
    for r in rows:
        match = re.search(r"\bt(\d+)q\b", str(r["prompt"]))
        if match:
            jobs_by_tag[int(match.group(1))].append(int(r["id"]))
    created_twice = sorted(
        (tag, n, jobs_by_tag.get(tag, []))
        for tag, n in world.creates_by_tag.items()
        if n > len(jobs_by_tag.get(tag, []))
    )

    never_sent = sorted(
        int(r["id"])
        for r in rows
        if r["state"] == "in_doubt"
        and (m := re.search(r"\bt(\d+)q\b", str(r["prompt"])))
        and not world.create_requests_by_tag[int(m.group(1))]
    )

    drift = world.db.drift()
    for r in rows:
        clip = any(_has_clip(m) for m in finals[r["id"]])
        if r["quota_state"] == "settled" and not clip:
            drift.append(f"job {r['id']}: charged ({r['quota_state']}) without a clip delivered")
        if clip and r["quota_state"] != "settled":
            drift.append(f"job {r['id']}: clip delivered but quota {r['quota_state']}")

    owed, unanswered = _unanswered(world)
    logs = world.bot.log_text()
    public = json.dumps(messages) + json.dumps(
        [i.callback for i in world.fake.world.interactions.values()]
    )
    secrets = sum(text.count(s) for text in (logs, public) for s in (RUNWAY_KEY, DEFAULT_TOKEN))

    kills = [life for life in world.lives if life.window and life.window != "failed-start"]
    recoveries = [life.recovery_s for life in world.lives if life.recovery_s is not None]
    figures: dict[str, Any] = {
        "jobs": len(rows),
        "jobs_by_state": dict(sorted(by_state.items())),
        "jobs_by_error": dict(
            Counter(str(r["error_code"]) for r in rows if r["error_code"]).most_common()
        ),
        "lost": len(lost),
        "told_only_in_the_command_reply": len(told_in_reply),
        "posted_twice": len(posted_twice),
        "status_posted_twice": len(status_twice),
        "stray_live_cancel_buttons": len(stray_live),
        "created_twice": len(created_twice),
        "in_doubt_never_sent": never_sent[:SHOW],
        "quota_drift": len(drift),
        "stuck": len(stuck),
        "stuck_rows": stuck_why[:SHOW],
        "unanswered_while_connected": len(unanswered),
        "interactions_owed_an_answer": owed,
        "secrets_in_logs_or_messages": secrets,
        "invalid_discord_requests": len(world.fake.invalid),
        "fake_discord_errors": len(world.fake.errors),
        "failed_starts": len(world.start_failures),
        "kills": len(kills),
        "kills_by_window": dict(sorted(Counter(life.window for life in kills).items())),
        "window_misses": dict(world.window_misses),
        "recovery_worst_s": round(max(recoveries), 2) if recoveries else None,
        "recovery_median_s": round(statistics.median(recoveries), 2) if recoveries else None,
        "interactions_sent": len(world.sent),
        "actions": dict(sorted(world.actions.items())),
        "creates_answered": sum(world.creates_by_tag.values()),
        "create_requests": sum(world.create_requests_by_tag.values()),
        "requeued_before_create_log_lines": logs.count("before its create was sent: requeued"),
        "delivery_given_up_log_lines": logs.count("giving up delivering"),
        "tracebacks_in_logs": logs.count("Traceback (most recent call last)"),
        "drain": drain,
    }
    violations: list[str] = []
    for name, ids in (
        ("lost", lost),
        ("posted_twice", posted_twice),
        ("status_posted_twice", status_twice),
        ("stray_live_cancel_buttons", stray_live),
        ("stuck", stuck),
    ):
        if ids:
            violations.append(f"{name}: {len(ids)} jobs, e.g. {ids[:SHOW]}")
    if created_twice:
        violations.append(f"created_twice (tag, creates, jobs): {created_twice[:SHOW]}")
    if drift:
        violations.append(f"quota_drift: {drift[:SHOW]}")
    if unanswered:
        violations.append(f"unanswered_while_connected: {unanswered[:SHOW]}")
    if secrets:
        violations.append(f"secrets_in_logs_or_messages: {secrets}")
    if world.fake.invalid:
        violations.append(f"invalid_discord_requests: {world.fake.invalid[:3]}")
    if world.start_failures:
        violations.append(f"failed_starts: {world.start_failures[:3]}")
    if world.fake.errors:
        violations.append(f"fake_discord_errors: {world.fake.errors[:3]}")
    figures["violations"] = violations
    return figures


def _reply_texts(world: World) -> list[str]:
    """The text of every answer the bot gave to an interaction (callbacks and followups)."""
    texts: list[str] = []
    messages = world.fake.world.messages
    for interaction in world.fake.world.interactions.values():
        bodies = [(interaction.callback or {}).get("data") or {}]
        ids = [*interaction.followup_ids, interaction.original_message_id]
        bodies += [messages[m] for m in ids if m is not None and m in messages]
        texts.append(json.dumps(bodies))
    return texts


def _unanswered(world: World) -> tuple[int, list[str]]:
    """How many interactions were sent while the bot was connected and stayed so for the ack
    window, and those of them that got no answer."""
    out: list[str] = []
    owed = 0
    for sent in world.sent:
        covered = any(
            life.connected is not None
            and life.connected <= sent.before
            and (life.killed is None or life.killed >= sent.after + ACK_WINDOW_S)
            for life in world.lives
        )
        interaction = world.fake.world.interactions.get(sent.iid)
        owed += covered
        if covered and interaction is not None and not interaction.acked.is_set():
            out.append(f"{sent.what} {sent.iid} by {sent.user_id}")
    return owed, out
