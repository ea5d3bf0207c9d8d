"""A small async wrapper over the fake's /_control/ API, for tests (in-process or subprocess)."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp

Json = Any
FileSpec = tuple[str, bytes, str]


class ControlError(Exception):
    """The fake refused a control request (a mistake in the test)."""


class InvalidRequestsError(AssertionError):
    """The bot sent REST bodies Discord's OpenAPI spec rejects."""


class FakeDiscordClient:
    """Talks to a running fake; every method maps to one control endpoint."""

    def __init__(self, base_url: str, *, session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._own_session = session is None

    async def __aenter__(self) -> FakeDiscordClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def _request(self, method: str, path: str, body: Json = None, **params: Any) -> Json:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        url = f"{self.base_url}/_control{path}"
        query = {k: str(v) for k, v in params.items() if v is not None}
        async with self._session.request(method, url, json=body, params=query) as resp:
            data = await resp.json()
            if resp.status >= 400:
                raise ControlError(f"{method} {path}: {resp.status} {data}")
            return data

    # -- seeding --------------------------------------------------------------------------------

    async def state(self) -> Json:
        return await self._request("GET", "/state")

    async def create_user(self, username: str, *, user_id: int | None = None) -> Json:
        return await self._request("POST", "/users", {"username": username, "id": user_id})

    async def direct_messages(self, user_id: int, *, open: bool | None = None) -> Json:
        """The user's DM channel with the bot (``channel_id``, null until opened) and whether
        they accept DMs; ``open`` changes that first."""
        if open is None:
            return await self._request("GET", f"/users/{user_id}/dms")
        return await self._request("PUT", f"/users/{user_id}/dms", {"open": open})

    async def create_guild(
        self,
        name: str = "Guild",
        *,
        guild_id: int | None = None,
        owner_id: int | None = None,
        premium_tier: int | None = None,
        upload_limit: int | None = None,
        everyone_permissions: int | None = None,
        bot_permissions: int | None = None,
        system_channel: str | None = None,
    ) -> Json:
        return await self._request(
            "POST",
            "/guilds",
            {
                "name": name,
                "id": guild_id,
                "owner_id": owner_id,
                "premium_tier": premium_tier,
                "upload_limit": upload_limit,
                "everyone_permissions": everyone_permissions,
                "bot_permissions": bot_permissions,
                "system_channel": system_channel,
            },
        )

    async def update_guild(self, guild_id: int, **fields: Any) -> Json:
        return await self._request("PATCH", f"/guilds/{guild_id}", fields)

    async def create_channel(
        self,
        guild_id: int,
        name: str = "general",
        *,
        type: int = 0,
        parent_id: int | None = None,
        bot_permissions: int | None = None,
    ) -> Json:
        body = {
            "name": name,
            "type": type,
            "parent_id": parent_id,
            "bot_permissions": bot_permissions,
        }
        return await self._request("POST", f"/guilds/{guild_id}/channels", body)

    async def create_role(self, guild_id: int, name: str, permissions: int = 0) -> Json:
        body = {"name": name, "permissions": permissions}
        return await self._request("POST", f"/guilds/{guild_id}/roles", body)

    async def add_member(self, guild_id: int, user_id: int, roles: Sequence[int] = ()) -> Json:
        body = {"user_id": user_id, "roles": list(roles)}
        return await self._request("POST", f"/guilds/{guild_id}/members", body)

    async def set_channel_permissions(
        self, channel_id: int, permissions: int, *, user_id: int | None = None
    ) -> Json:
        """Give the bot (or `user_id`) exactly `permissions` in a channel (a member overwrite)."""
        body: dict[str, Any] = {"permissions": permissions}
        if user_id is not None:
            body["user_id"] = user_id
        return await self._request("PUT", f"/channels/{channel_id}/permissions", body)

    async def permissions(self, channel_id: int, user_id: int | None = None) -> int:
        data = await self._request("GET", f"/channels/{channel_id}/permissions", user_id=user_id)
        return int(data["permissions"])

    async def register_commands(
        self, commands: list[dict[str, Any]], *, guild_id: int | None = None
    ) -> Json:
        return await self._request(
            "POST", "/commands", {"commands": commands, "guild_id": guild_id}
        )

    # -- acting as users ------------------------------------------------------------------------

    @staticmethod
    def _files(attachments: Sequence[FileSpec], options: Sequence[str] | None = None) -> list[Json]:
        out = []
        for index, (filename, data, content_type) in enumerate(attachments):
            item = {
                "filename": filename,
                "data_b64": base64.b64encode(data).decode(),
                "content_type": content_type,
            }
            if options is not None:
                item["option"] = options[index]
            out.append(item)
        return out

    async def post_message(
        self,
        channel_id: int,
        author_id: int,
        content: str = "",
        attachments: Sequence[FileSpec] = (),
    ) -> Json:
        body = {"author_id": author_id, "content": content, "attachments": self._files(attachments)}
        return await self._request("POST", f"/channels/{channel_id}/messages", body)

    async def invoke_command(
        self,
        user_id: int,
        guild_id: int,
        channel_id: int,
        name: str,
        options: dict[str, Any] | None = None,
        attachments: Sequence[FileSpec] = (),
        *,
        attachment_options: Sequence[str] | None = None,
        focused: str | None = None,
    ) -> str:
        """Invoke slash command `name` ("cmd" or "cmd sub"); return the interaction id.

        Attachments fill the options named by `attachment_options`; by default the
        registered command's attachment options, in order.
        """
        names = list(attachment_options or [])
        names += [""] * (len(attachments) - len(names))
        body = {
            "user_id": user_id,
            "guild_id": guild_id,
            "channel_id": channel_id,
            "name": name,
            "options": options or {},
            "attachments": self._files(attachments, names),
            "focused": focused,
        }
        data = await self._request("POST", "/interactions/command", body)
        return str(data["id"])

    async def autocomplete(
        self,
        user_id: int,
        guild_id: int,
        channel_id: int,
        name: str,
        options: dict[str, Any],
        focused: str,
        *,
        within: float = 5.0,
    ) -> list[Json]:
        """Send an autocomplete interaction and return the choices the bot answered."""
        iid = await self.invoke_command(
            user_id, guild_id, channel_id, name, options, focused=focused
        )
        result = await self.wait_for_response(iid, within=within)
        if result["callback_type"] != 8:
            raise AssertionError(f"autocomplete answered with callback {result['callback_type']}")
        return list(result["autocomplete_choices"] or [])

    async def message_command(self, user_id: int, name: str, message_id: int) -> str:
        body = {"user_id": user_id, "name": name, "message_id": message_id}
        return str((await self._request("POST", "/interactions/message-command", body))["id"])

    async def press_button(
        self, user_id: int, message_id: int, custom_id: str, values: list[str] | None = None
    ) -> str:
        body = {
            "user_id": user_id,
            "message_id": message_id,
            "custom_id": custom_id,
            "values": values,
        }
        return str((await self._request("POST", "/interactions/component", body))["id"])

    async def submit_modal(
        self, opened_by: str | int, values: dict[str, Any], *, user_id: int | None = None
    ) -> str:
        body = {"opened_by": int(opened_by), "values": values, "user_id": user_id}
        return str((await self._request("POST", "/interactions/modal", body))["id"])

    # -- reading back ---------------------------------------------------------------------------

    async def interaction(self, interaction_id: str | int) -> Json:
        return await self._request("GET", f"/interactions/{interaction_id}")

    async def wait_for_response(self, interaction_id: str | int, *, within: float = 5.0) -> Json:
        """Wait until the bot's callback to the interaction was answered (`answered`: the
        bot has the HTTP reply, so a modal or buttons it sent are usable); return the summary."""
        data = await self._request("GET", f"/interactions/{interaction_id}", wait=within)
        if not data["answered"]:
            raise TimeoutError(f"interaction {interaction_id} not answered in {within} s")
        return data

    async def wait_until(
        self,
        fetch: Callable[[], Any],
        predicate: Callable[[Any], bool],
        *,
        within: float = 5.0,
        interval: float = 0.02,
    ) -> Any:
        """Poll `await fetch()` until `predicate(result)`; return the result."""
        deadline = time.monotonic() + within
        while True:
            result = await fetch()
            if predicate(result):
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met in {within} s; last: {result!r:.500}")
            await asyncio.sleep(interval)

    async def wait_for_followups(
        self, interaction_id: str | int, count: int = 1, *, within: float = 5.0
    ) -> Json:
        return await self.wait_until(
            lambda: self.interaction(interaction_id),
            lambda d: len(d["followups"]) >= count,
            within=within,
        )

    async def changes(self, since: int = -1, *, within: float = 0.0) -> int:
        """The fake's change counter; waits up to `within` s for it to move past `since`."""
        data = await self._request("GET", "/changes", since=since, wait=within or None)
        return int(data["version"])

    async def update_channel(self, channel_id: int | str, **fields: Any) -> Json:
        """Rename a channel, or archive/lock a thread (fields: name, archived, locked)."""
        return await self._request("PATCH", f"/channels/{channel_id}", fields)

    async def delete_channel(self, channel_id: int | str) -> Json:
        return await self._request("DELETE", f"/channels/{channel_id}")

    async def delete_message(self, message_id: int | str) -> Json:
        """Delete a message as a moderator would (the bot gets MESSAGE_DELETE)."""
        return await self._request("DELETE", f"/messages/{message_id}")

    async def messages(self, channel_id: int) -> list[Json]:
        return list(await self._request("GET", f"/channels/{channel_id}/messages"))

    async def message(self, message_id: int | str) -> Json:
        return await self._request("GET", f"/messages/{message_id}")

    async def threads(self, parent_id: int | None = None) -> list[Json]:
        return list(await self._request("GET", "/threads", parent_id=parent_id))

    async def file(self, file_id: int | str) -> bytes:
        data = await self._request("GET", f"/files/{file_id}")
        return base64.b64decode(data["data_b64"])

    async def calls(self) -> list[Json]:
        return list(await self._request("GET", "/calls"))

    async def invalid_requests(self) -> list[Json]:
        return list(await self._request("GET", "/invalid"))

    async def assert_no_invalid_requests(self) -> None:
        bad = await self.invalid_requests()
        if bad:
            lines = [
                f"{b['method']} {b['path']}: {b['errors']} body={b['body']!r:.300}" for b in bad
            ]
            raise InvalidRequestsError("invalid REST bodies:\n" + "\n".join(lines))

    async def clear_logs(self) -> None:
        await self._request("DELETE", "/logs")

    async def gateway_log(self) -> list[Json]:
        return list(await self._request("GET", "/gateway"))

    async def gateway_reconnect(self) -> int:
        return int((await self._request("POST", "/gateway/reconnect"))["sessions"])

    # -- rules ----------------------------------------------------------------------------------

    async def set_time_scale(self, scale: float) -> Json:
        return await self._request("POST", "/clock", {"time_scale": scale})

    async def advance(self, seconds: float) -> Json:
        """Move the fake's clock forward (expires 3 s acks and 15 min tokens without waiting)."""
        return await self._request("POST", "/clock", {"advance": seconds})

    async def settings(self, **values: Any) -> Json:
        return await self._request("POST", "/settings", values)

    async def rate_limit(
        self,
        route: str = "*",
        *,
        method: str = "*",
        count: int = 1,
        retry_after: float = 0.1,
        is_global: bool = False,
    ) -> Json:
        """The next `count` calls to `route` (a template like "/channels/{channel_id}/messages",
        a concrete path, or "*") answer 429."""
        body = {
            "route": route,
            "method": method,
            "count": count,
            "retry_after": retry_after,
            "global": is_global,
        }
        return await self._request("POST", "/rate-limits", body)

    async def realistic_rate_limits(
        self, enabled: bool = True, *, limit: int = 5, per_seconds: float = 5.0
    ) -> Json:
        """Count requests per route bucket and channel/guild/webhook (`limit` per `per_seconds`
        real seconds), with true X-RateLimit-Remaining/Reset-After and 429 beyond the limit."""
        body = {"realistic": enabled, "bucket_limit": limit, "bucket_seconds": per_seconds}
        return await self._request("POST", "/rate-limits", body)

    async def rate_limits(
        self,
        realistic: bool = True,
        *,
        limit: int = 5,
        seconds: float = 5.0,
        global_per_second: int = 50,
        share: float = 0.0,
        share_retry_after: float = 0.05,
        seed: int | None = None,
    ) -> Json:
        """Discord-like rate limits: with `realistic`, `limit` requests per `seconds` per route
        bucket and channel/guild/webhook, and `global_per_second` bot-token requests per second
        in all (0: no global limit; interaction callbacks and webhooks are exempt); `share` of
        bot-token requests answered with a per-route 429 (retry after `share_retry_after`),
        drawn from an RNG seeded with `seed`."""
        body = {
            "realistic": realistic,
            "bucket_limit": limit,
            "bucket_seconds": seconds,
            "global_per_second": global_per_second,
            "share": share,
            "share_retry_after": share_retry_after,
            "seed": seed,
        }
        return await self._request("POST", "/rate-limits", body)

    async def random_rate_limits(self, rate: float, retry_after: float = 0.05) -> Json:
        return await self._request(
            "POST", "/rate-limits", {"random_rate": rate, "retry_after": retry_after}
        )
