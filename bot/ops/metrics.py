"""The bot's Prometheus metrics, on a registry of their own (one per bot, never the global).

The core records events here (the worker's submissions, polls and delivery failures, the
Runway client's request latencies, the quota's credit movements); the gauges that describe
the job table and the bot-wide daily counter are set at scrape time by the HTTP endpoint
(:mod:`bot.ops.http`) from ``jobs_repo.stats`` and ``QuotaService.bot_usage_today``.

This module imports nothing of the bot but the domain types, so every layer may use it.
Counters move when the code path runs: a transaction rolled back after its increment (rare:
only on an exception) still counts, so treat the credit counters as an operational view,
not as the ledger (``usage_ledger`` is).
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ..domain import JobState, QueueStats

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

PREFIX = "runway_bot"

# No ``*_created`` series beside every counter and histogram: noise for this bot's dashboards.
# (A process-wide switch of prometheus_client; the bot has no other metrics.)
disable_created_metrics()  # type: ignore[no-untyped-call]

SUBMISSION_OUTCOMES = ("submitted", "requeued", "in_doubt", "failed")
POLL_OUTCOMES = (
    "running",
    "succeeded",
    "failed",
    "cancelled",
    "not_found",
    "error",
    "refused",
    "deadline",
)
DELIVERY_KINDS = ("clip", "notice")
DELIVERY_OUTCOMES = ("retrying", "gave_up")

# Runway answers a create in well under a second, a GET in milliseconds, an upload slower.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics:
    """Every metric family of one bot, registered on :attr:`registry`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        reg = self.registry
        self.jobs = Gauge(
            f"{PREFIX}_jobs", "Jobs in the table by state (at scrape time).", ["state"],
            registry=reg,
        )  # fmt: skip
        self.queue_depth = Gauge(
            f"{PREFIX}_queue_depth", "Queued jobs per model (at scrape time).", ["model"],
            registry=reg,
        )  # fmt: skip
        self.in_flight = Gauge(
            f"{PREFIX}_jobs_in_flight",
            "Jobs submitting or running at Runway per model (at scrape time).",
            ["model"],
            registry=reg,
        )
        self.undelivered = Gauge(
            f"{PREFIX}_undelivered_jobs",
            "Finished jobs whose clip or notice is not posted yet (at scrape time).",
            registry=reg,
        )
        self.daily_credits = Gauge(
            f"{PREFIX}_daily_credits",
            "The bot-wide credit counter of this UTC day (kind: used, reserved).",
            ["kind"],
            registry=reg,
        )
        self.submissions = Counter(
            f"{PREFIX}_submissions",
            "Create requests by outcome (submitted, requeued, in_doubt, failed).",
            ["outcome"],
            registry=reg,
        )
        self.polls = Counter(f"{PREFIX}_polls", "Task polls by outcome.", ["outcome"], registry=reg)
        self.runway_latency = Histogram(
            f"{PREFIX}_runway_request_duration_seconds",
            "Runway API request latency per attempt, by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.credits_reserved = Counter(
            f"{PREFIX}_credits_reserved",
            "Estimated credits reserved by new jobs.",
            registry=reg,
        )
        self.credits_charged = Counter(
            f"{PREFIX}_credits_charged",
            "Credits charged when jobs settled (reported by Runway, else the estimate).",
            registry=reg,
        )
        self.credits_refunded = Counter(
            f"{PREFIX}_credits_refunded",
            "Estimated credits released back by refunded jobs.",
            registry=reg,
        )
        self.delivery_failures = Counter(
            f"{PREFIX}_delivery_failures",
            "Failed deliveries (kind: clip, notice; outcome: retrying, gave_up).",
            ["kind", "outcome"],
            registry=reg,
        )
        # Known label values start at 0, so rates and alerts work before the first event.
        for outcome in SUBMISSION_OUTCOMES:
            self.submissions.labels(outcome)
        for outcome in POLL_OUTCOMES:
            self.polls.labels(outcome)
        for kind in DELIVERY_KINDS:
            for result in DELIVERY_OUTCOMES:
                self.delivery_failures.labels(kind, result)
        for state in JobState:
            self.jobs.labels(state.value)
        for kind in ("used", "reserved"):
            self.daily_credits.labels(kind)

    # -- events (the core) -------------------------------------------------------------

    def submission(self, outcome: str) -> None:
        """A create request ended: ``submitted``, ``requeued``, ``in_doubt`` or ``failed``."""
        self.submissions.labels(outcome).inc()

    def poll(self, outcome: str) -> None:
        """A poll of a running task ended (see ``POLL_OUTCOMES``)."""
        self.polls.labels(outcome).inc()

    def runway_request(self, method: str, route: str, seconds: float) -> None:
        """One HTTP attempt to the Runway API took ``seconds`` (answered or not)."""
        self.runway_latency.labels(method, route).observe(seconds)

    def reserved(self, credits: float) -> None:
        """A new job reserved its estimated credits."""
        self.credits_reserved.inc(max(0.0, credits))

    def charged(self, credits: float) -> None:
        """A job settled: ``credits`` were charged."""
        self.credits_charged.inc(max(0.0, credits))

    def refunded(self, credits: float) -> None:
        """A job was refunded: its estimate is released."""
        self.credits_refunded.inc(max(0.0, credits))

    def delivery_failed(self, kind: str, *, gave_up: bool) -> None:
        """Posting a clip (``clip``) or a failure notice (``notice``) failed."""
        self.delivery_failures.labels(kind, "gave_up" if gave_up else "retrying").inc()

    # -- scrape time (the endpoint) ----------------------------------------------------

    def set_queue(self, stats: QueueStats, models: Iterable[str] = ()) -> None:
        """Set the job-table gauges from a snapshot; ``models`` are reported even at 0."""
        for state in JobState:
            self.jobs.labels(state.value).set(stats.by_state.get(state, 0))
        self.queue_depth.clear()
        self.in_flight.clear()
        names = set(models) | set(stats.queued_by_model) | set(stats.in_flight_by_model)
        for model in sorted(names):
            self.queue_depth.labels(model).set(stats.queued_by_model.get(model, 0))
            self.in_flight.labels(model).set(stats.in_flight_by_model.get(model, 0))
        self.undelivered.set(stats.undelivered)

    def set_daily(self, used: float, reserved: float) -> None:
        """Set the bot-wide daily counter (credits used and reserved this UTC day)."""
        self.daily_credits.labels("used").set(used)
        self.daily_credits.labels("reserved").set(reserved)

    def render(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)

    def series_names(self) -> set[str]:
        """Every series name a query may use (``_total`` of counters; ``_bucket``, ``_count``
        and ``_sum`` of histograms; gauges as they are), even before their first sample."""
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
        names: set[str] = set()
        for family in self.registry.collect():
            names.update(family.name + end for end in suffixes.get(family.type, ("",)))
        return names
