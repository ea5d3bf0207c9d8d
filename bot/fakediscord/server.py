"""The fake Discord: one aiohttp app serving REST (/api/v10), the gateway, the CDN and /_control."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.fakediscord import control, gateway, rest
from bot.fakediscord.core import (
    AFTER_SENT,
    DEFAULT_APPLICATION_ID,
    DEFAULT_TOKEN,
    FakeCore,
    LoggedCall,
    Settings,
)

__all__ = [
    "DEFAULT_APPLICATION_ID",
    "DEFAULT_TOKEN",
    "FakeDiscord",
    "LoggedCall",
    "Settings",
]


class FakeDiscord(FakeCore):
    """The world, its rules and their routes; `start()` serves them on 127.0.0.1."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        application_id: int = DEFAULT_APPLICATION_ID,
        bot_name: str = "RunwayBot",
        time_scale: float = 1.0,
    ) -> None:
        super().__init__(
            token=token, application_id=application_id, bot_name=bot_name, time_scale=time_scale
        )
        self._runner: web.AppRunner | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        # Outermost, so middlewares a subclass appends (e.g. to hold answers) run inside it.
        app = web.Application(client_max_size=1024**3, middlewares=[self._answer_first])
        rest.setup(app, self)
        gateway.setup(app, self)
        control.setup(app, self)
        return app

    @web.middleware
    async def _answer_first(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[Any]]
    ) -> web.StreamResponse:
        """Write the answer before running the request's after-sent callbacks: what they
        unlock (a modal, a message's buttons) exists for users only once the bot has it."""
        try:
            response: web.StreamResponse = await handler(request)
            if request.get(AFTER_SENT):
                with contextlib.suppress(ConnectionError):
                    await response.prepare(request)
                    await response.write_eof()
            return response
        finally:
            callbacks = request.get(AFTER_SENT) or []
            for callback in callbacks:
                callback()
            if callbacks or request.method != "GET":
                await self.notify()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.make_app(), handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        actual = sockets[0].getsockname()[1] if sockets else port
        self.base_url = f"http://{host}:{actual}"
        self.world.cdn_base = self.base_url
        return self.base_url

    async def stop(self) -> None:
        for session in list(self.sessions.values()):
            await session.close(1001)
        await self.notify()  # ends the control API's long polls (GET /_control/changes)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
