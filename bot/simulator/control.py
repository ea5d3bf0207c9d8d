"""The simulator's HTTP control API (``/_sim/...``), for subprocess tests and ``simulate``."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any, Protocol

from aiohttp import web

from .dialects import GATEWAY_FAULTS
from .gate import Fault
from .tasks import SimClock


class Controllable(Protocol):
    """What the control API drives (the server implements it; no import of the server)."""

    clock: SimClock
    faults: list[Fault]

    def add_fault(self, fault: Fault) -> None: ...
    def advance(self, seconds: float) -> None: ...
    def expire_outputs(self) -> None: ...
    def state(self) -> dict[str, Any]: ...
    async def wait_rendered(self, task_id: str | None = None) -> None: ...


def control_routes(sim: Controllable) -> list[web.RouteDef]:
    """Routes: POST faults, gateway-faults, advance, expire, reset-faults, wait-rendered;
    GET state.

    ``POST /_sim/gateway-faults`` takes ``{"name": HELPER, "args": {...}}``: a helper of
    ``dialects`` by name with its arguments as keywords, e.g. ``{"name":
    "no_channel_503", "args": {"model": "gen4_turbo", "times": 2}}``.
    """
    known = {f.name for f in fields(Fault)}

    async def body_of(request: web.Request) -> Any:
        try:
            return await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None

    async def add_fault(request: web.Request) -> web.Response:
        body = await body_of(request)
        if not isinstance(body, dict) or set(body) - known:
            return web.json_response(
                {"error": f"expected an object with fields from {sorted(known)}"}, status=400
            )
        try:
            sim.add_fault(Fault(**body))
        except TypeError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"ok": True, "faults": len(sim.faults)})

    async def add_gateway_fault(request: web.Request) -> web.Response:
        body = await body_of(request)
        name = body.get("name") if isinstance(body, dict) else None
        args = body.get("args", {}) if isinstance(body, dict) else None
        if name not in GATEWAY_FAULTS or not isinstance(args, dict) or set(body) - {"name", "args"}:
            return web.json_response(
                {"error": f'expected {{"name": one of {sorted(GATEWAY_FAULTS)}, "args": {{...}}}}'},
                status=400,
            )
        try:
            sim.add_fault(GATEWAY_FAULTS[name](**args))
        except TypeError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"ok": True, "faults": len(sim.faults)})

    async def advance(request: web.Request) -> web.Response:
        body = await body_of(request)
        try:
            sim.advance(float(body["seconds"]))
        except (TypeError, KeyError, ValueError):
            return web.json_response({"error": 'expected {"seconds": N >= 0}'}, status=400)
        return web.json_response({"ok": True, "now": sim.clock.now()})

    async def expire(_: web.Request) -> web.Response:
        sim.expire_outputs()
        return web.json_response({"ok": True})

    async def reset_faults(_: web.Request) -> web.Response:
        sim.faults.clear()
        return web.json_response({"ok": True})

    async def wait_rendered(request: web.Request) -> web.Response:
        body = await body_of(request) if request.can_read_body else {}
        task_id = body.get("task_id") if isinstance(body, dict) else 0
        if task_id is not None and not isinstance(task_id, str):
            return web.json_response({"error": 'expected {"task_id": ID} or no body'}, status=400)
        await sim.wait_rendered(task_id)
        return web.json_response({"ok": True})

    async def state(_: web.Request) -> web.Response:
        return web.json_response(sim.state())

    return [
        web.post("/_sim/faults", add_fault),
        web.post("/_sim/gateway-faults", add_gateway_fault),
        web.post("/_sim/advance", advance),
        web.post("/_sim/expire", expire),
        web.post("/_sim/reset-faults", reset_faults),
        web.post("/_sim/wait-rendered", wait_rendered),
        web.get("/_sim/state", state),
    ]
