"""The soak's random faults, from both sides: the Runway simulator (or the CometAPI gateway it
plays) and the fake Discord. Per-task faults (moderation, throttling, gateway dialects) travel
in the prompts instead (``_soak_world.directives``)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.fakediscord import rules
from bot.fakediscord.client import ControlError
from bot.simulator import Fault
from bot.simulator.dialects import GATEWAY_FAULTS

if TYPE_CHECKING:
    from _soak_world import World

REQUEST_TIMEOUT_S = 60.0  # the bot's [runway] request_timeout_seconds (default), virtual
ATTACH_FILES, CREATE_PUBLIC_THREADS = 1 << 15, 1 << 35


class FaultMaker:
    """Injects one random fault every ``mean_gap`` real seconds (on average) until told."""

    def __init__(self, world: World, rng: random.Random, mean_gap: float = 2.0) -> None:
        self.world = world
        self.rng = rng
        self.mean_gap = mean_gap
        self.counts: Counter[str] = Counter()
        self._restores: set[asyncio.Task[None]] = set()

    async def run(self, until: float) -> None:
        kinds = [
            (self.runway_throttle, 3),
            (self.runway_5xx, 3),
            (self.runway_timeout, 2),
            (self.runway_drop, 1),
            (self.runway_malformed, 2),
            (self.expire_outputs, 1),
            (self.gateway_answer, 3),
            (self.discord_429, 3),
            (self.discord_5xx_after_store, 2),
            (self.discord_held_then_dropped, 1),
            (self.delete_thread, 1),
            (self.missing_permissions, 1),
        ]
        fns = [k for k, _ in kinds]
        weights = [w for _, w in kinds]
        while time.monotonic() < until:
            await asyncio.sleep(self.rng.expovariate(1 / self.mean_gap))
            fn = self.rng.choices(fns, weights)[0]
            try:
                await fn()
            except (ControlError, KeyError, ValueError) as exc:
                self.counts[f"error:{type(exc).__name__}"] += 1

    async def stop(self) -> None:
        """No more faults: clear the simulator's, Discord's rate limits, holds, overwrites."""
        self.world.sim.faults.clear()
        self.world.fake.release_all()
        for task in list(self._restores):
            task.cancel()
        await asyncio.gather(*self._restores, return_exceptions=True)
        for place in self.world.places:
            await self._restore(place.channel_id)
        self.world.fake.limiter.forced.clear()

    def _later(self, seconds: float, action: Callable[[], Awaitable[object]]) -> None:
        async def run() -> None:
            await asyncio.sleep(seconds)
            with contextlib.suppress(ControlError):
                await action()

        task = asyncio.create_task(run())
        self._restores.add(task)
        task.add_done_callback(self._restores.discard)

    # -- Runway / the gateway ------------------------------------------------------------------

    def _add(self, name: str, fault: Fault) -> None:
        self.counts[name] += 1
        self.world.sim.add_fault(fault)

    async def runway_throttle(self) -> None:
        self._add(
            "runway_429",
            Fault(
                method=self.rng.choice(["POST", "GET", "*"]),
                status=429,
                retry_after=self.rng.choice([None, 1, 5]),
                times=self.rng.randint(1, 3),
            ),
        )

    async def runway_5xx(self) -> None:
        status = self.rng.choice([500, 502, 503, 504])
        self._add(
            f"runway_{status}",
            Fault(method=self.rng.choice(["POST", "GET", "DELETE", "*"]), status=status),
        )

    async def runway_timeout(self) -> None:
        """A request answered only after the bot's timeout (a create then exists anyway)."""
        delay = REQUEST_TIMEOUT_S / self.world.clock.factor * 1.5 + 1.0
        self._add(
            "runway_timeout",
            Fault(method=self.rng.choice(["POST", "GET"]), status=200, delay=delay),
        )

    async def runway_drop(self) -> None:
        self._add(
            "runway_dropped_connection",
            Fault(method=self.rng.choice(["POST", "GET"]), drop_connection=True),
        )

    async def runway_malformed(self) -> None:
        body = self.rng.choice(['{"id": ', "<html>oops</html>", '{"status": 7}', "[]"])
        self._add(
            "runway_malformed_body",
            Fault(
                method=self.rng.choice(["GET", "POST"]),
                status=200,
                body=body,
                content_type=self.rng.choice(["application/json", "text/html"]),
            ),
        )

    async def expire_outputs(self) -> None:
        self.counts["runway_expired_output_urls"] += 1
        self.world.sim.expire_outputs()

    async def gateway_answer(self) -> None:
        """One of the gateway's (and Runway's) ready-made error answers."""
        name = self.rng.choice(sorted(GATEWAY_FAULTS))
        args: dict[str, object] = {}
        if name == "no_channel_503":
            args = {"model": self.rng.choice(["gen4_turbo", "gen4_aleph"])}
        elif name == "fail_to_fetch":
            args = {"status": self.rng.choice([500, 502, 404]), "upstream_text": "upstream error"}
        elif name == "delete_not_routed_404":
            args = {}
        self._add(f"gateway_{name}", GATEWAY_FAULTS[name](**args))

    # -- Discord ---------------------------------------------------------------------------------

    async def discord_429(self) -> None:
        route = self.rng.choice(
            [
                "/channels/{channel_id}/messages",
                "/channels/{channel_id}/messages/{message_id}",
                "/channels/{channel_id}/messages/{message_id}/threads",
                "*",
            ]
        )
        is_global = self.rng.random() < 0.2
        self.counts["discord_429_global" if is_global else "discord_429"] += 1
        await self.world.ctl.rate_limit(
            route,
            count=self.rng.randint(1, 3),
            retry_after=self.rng.choice([0.5, 2.0]),
            is_global=is_global,
        )

    async def discord_5xx_after_store(self) -> None:
        """Discord stores the message (or thread, or edit) and answers 503."""
        method, path = self.rng.choice(
            [
                ("POST", r"/channels/\d+/messages"),
                ("POST", r"/channels/\d+/messages/\d+/threads"),
                ("PATCH", r"/channels/\d+/messages/\d+"),
            ]
        )
        self.counts[f"discord_503_after_store_{method}"] += 1
        self.world.fake.hold(method, path, after=True, status=503)

    async def discord_held_then_dropped(self) -> None:
        """A call held a few seconds, then the connection breaks before Discord reads it."""
        self.counts["discord_held_call"] += 1
        hold = self.world.fake.hold(
            self.rng.choice(["POST", "PATCH"]), r"/channels/\d+/messages(/\d+)?", after=False
        )

        async def release() -> None:
            hold.release.set()

        self._later(self.rng.uniform(1.0, 6.0), release)

    async def delete_thread(self) -> None:
        """A moderator deletes the thread of a job still running."""
        running = {
            int(r["thread_id"])
            for r in self.world.db.rows(
                "SELECT thread_id FROM jobs WHERE thread_id IS NOT NULL"
                " AND state IN ('queued', 'submitting', 'running')"
            )
        }
        alive = [cid for cid in running if cid in self.world.fake.world.channels]
        if not alive:
            return
        self.counts["discord_deleted_thread"] += 1
        with contextlib.suppress(ControlError):
            await self.world.ctl.delete_channel(self.rng.choice(alive))

    async def missing_permissions(self) -> None:
        """For a few seconds the bot may not attach files or open threads in a channel."""
        place = self.rng.choice(self.world.places)
        self.counts["discord_missing_permissions"] += 1
        allowed = rules.ALL_PERMISSIONS & ~(ATTACH_FILES | CREATE_PUBLIC_THREADS)
        await self.world.ctl.set_channel_permissions(place.channel_id, allowed)
        self._later(self.rng.uniform(2.0, 8.0), lambda: self._restore(place.channel_id))

    async def _restore(self, channel_id: int) -> None:
        await self.world.ctl.set_channel_permissions(channel_id, rules.ALL_PERMISSIONS)
