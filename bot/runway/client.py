"""Async client of the Runway API (direct, through CometAPI, or the local simulator).

One aiohttp session serves every call. API requests carry the key; output and
upload URLs are signed and get no ``Authorization`` header, so the key never
reaches another host. The key is kept in a ``SecretStr`` and scrubbed from every
error message and log line. Retry rules live in :mod:`bot.runway.retry`.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar
from urllib.parse import urljoin, urlsplit

import aiohttp
from pydantic import SecretStr, ValidationError

from ..ops.metrics import Metrics
from . import cometapi, error_bodies
from .downloads import download_to
from .errors import (
    AuthenticationError,
    BadResponseError,
    BalanceExhaustedError,
    CancelUnsupportedError,
    DailyLimitError,
    MissingTaskIdError,
    NotFoundError,
    RateLimitedError,
    RunwayConnectionError,
    RunwayError,
    RunwayTimeoutError,
    RunwayValidationError,
    ServerError,
    TaskNotVisibleYet,
)
from .models import (
    CreatedTask,
    ImageToVideoRequest,
    Organization,
    Task,
    UploadTicket,
    ValidationIssue,
    VideoToVideoRequest,
)
from .retry import RetryPolicy, SleepFn, parse_retry_after

if TYPE_CHECKING:
    import random

    from bot.config import RunwaySettings

log = logging.getLogger(__name__)

Provider = Literal["runway", "cometapi", "simulator"]
USER_AGENT = "runway-discord-bot/0.1"
_MAX_ERROR_TEXT = 300
TASK_ROUTE = "/v1/tasks/{id}"

T = TypeVar("T")
M = TypeVar("M", Task, Organization, UploadTicket, CreatedTask)


class RunwayClient:
    """Typed calls to the Runway API with retries, timeouts and safe error reporting."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        provider: Provider = "runway",
        api_version: str = "2024-11-06",
        connect_timeout: float = 10.0,
        request_timeout: float = 60.0,
        upload_timeout: float = 300.0,
        download_timeout: float = 300.0,
        download_min_bytes_per_second: float = 64 * 1024,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        sleep: SleepFn | None = None,
        rng: random.Random | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        if not api_key:
            raise ValueError("api_key must not be empty")
        self.base_url = base_url.rstrip("/")
        self.provider: Provider = provider
        self.api_version = api_version
        self._key = SecretStr(api_key)
        self._connect_timeout = connect_timeout
        self._request_timeout = request_timeout
        self._upload_timeout = upload_timeout
        self._download_timeout = download_timeout
        self._download_min_rate = download_min_bytes_per_second
        policy = RetryPolicy(
            max_retries=max_retries, backoff_base=backoff_base, backoff_max=backoff_max
        )
        if sleep is not None:
            policy.sleep = sleep
        if rng is not None:
            policy.rng = rng
        self.retry = policy
        self._session: aiohttp.ClientSession | None = None
        self.metrics = metrics if metrics is not None else Metrics()

    @classmethod
    def from_settings(
        cls,
        settings: RunwaySettings,
        *,
        base_url: str | None = None,
        metrics: Metrics | None = None,
    ) -> RunwayClient:
        """A client for the configured provider; ``base_url`` overrides (the simulator's URL)."""
        url = base_url or settings.resolved_base_url()
        if url is None:
            raise ValueError(f"provider {settings.provider!r} needs a base URL")
        if settings.api_key is not None:
            key = settings.api_key.get_secret_value()
        else:
            # The simulator accepts any well-formed key; this one is never shown anywhere.
            key = "key_" + secrets.token_hex(64)
        return cls(
            base_url=url,
            api_key=key,
            provider=settings.provider,
            api_version=settings.api_version,
            connect_timeout=settings.connect_timeout_seconds,
            request_timeout=settings.request_timeout_seconds,
            upload_timeout=settings.upload_timeout_seconds,
            download_timeout=settings.download_timeout_seconds,
            download_min_bytes_per_second=settings.download_min_bytes_per_second,
            max_retries=settings.max_retries,
            metrics=metrics,
        )

    def __repr__(self) -> str:
        return f"RunwayClient(provider={self.provider!r}, base_url={self.base_url!r})"

    __str__ = __repr__

    async def __aenter__(self) -> Self:
        self._session_now()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session (safe to call twice)."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    # ------------------------------------------------------------------ API calls

    async def create_image_to_video(self, request: ImageToVideoRequest) -> str:
        """Start an image_to_video task; returns its id."""
        return await self._create("/v1/image_to_video", request.to_wire())

    async def create_video_to_video(self, request: VideoToVideoRequest) -> str:
        """Start a video_to_video task; returns its id."""
        return await self._create("/v1/video_to_video", request.to_wire())

    async def get_task(self, task_id: str) -> Task:
        """The task's current state. CometAPI: unwrapped; TaskNotVisibleYet for task_not_exist."""
        body = await self._call("GET", f"/v1/tasks/{_segment(task_id)}", route=TASK_ROUTE)
        if self.provider == "cometapi":
            return cometapi.unwrap_task(body)
        return _model(Task, body, "task")

    async def cancel_task(self, task_id: str) -> None:
        """Cancel (or delete, once finished) a task. An already-gone task is not an error.

        Raises CancelUnsupportedError through CometAPI, which does not route DELETE (404
        "Invalid URL"): the task goes on, and may still be billed.
        """
        try:
            await self._call("DELETE", f"/v1/tasks/{_segment(task_id)}", route=TASK_ROUTE)
        except TaskNotVisibleYet:
            raise
        except NotFoundError as exc:
            if self.provider == "cometapi":
                raise CancelUnsupportedError(
                    f"the gateway cannot cancel tasks ({exc.message})", status=exc.status
                ) from None
            log.debug("cancel: task %s was already gone", task_id)
        except RunwayError as exc:
            if exc.status == 405:
                raise CancelUnsupportedError(
                    f"the provider cannot cancel tasks ({exc.message})", status=405
                ) from None
            raise

    async def upload_ephemeral(self, filename: str, data: bytes, content_type: str) -> str:
        """Upload a file for use in a request (valid 24 h); returns its ``runway://`` URI."""
        body = await self._call(
            "POST", "/v1/uploads", json_body={"filename": filename, "type": "ephemeral"}
        )
        ticket = _model(UploadTicket, body, "upload ticket")
        target = urljoin(self.base_url + "/", ticket.upload_url)

        async def attempt() -> None:
            form = aiohttp.FormData()
            for name, value in ticket.fields.items():
                form.add_field(name, value)
            form.add_field("file", data, filename=filename, content_type=content_type)
            timeout = aiohttp.ClientTimeout(
                total=self._upload_timeout, connect=self._connect_timeout
            )
            async with self._session_now().post(
                target, data=form, timeout=timeout, allow_redirects=False
            ) as response:
                if response.status >= 300:
                    raise await self._error_for(response, "upload")
                await response.read()

        await self._with_retries(attempt, "POST upload", creates_task=False)
        return ticket.runway_uri

    async def organization(self) -> Organization:
        """Credit balance, tier limits and usage (Runway direct and the simulator only)."""
        if self.provider == "cometapi":
            raise NotFoundError("organization info is not available through CometAPI")
        body = await self._call("GET", "/v1/organization")
        return _model(Organization, body, "organization")

    async def download(self, url: str, dest: Path, *, max_bytes: int) -> int:
        """Stream an output file to ``dest``; returns its size in bytes.

        Bounded in time (overall deadline, minimum throughput), size and reach (see
        :mod:`bot.runway.downloads`): the key goes only to the API's own origin (a gateway
        serving the clip itself), redirects only to public https hosts. Raises
        OutputExpiredError on 400/401/403/404/410 and OutputTooLargeError beyond ``max_bytes``.
        """
        where = _safe_url(url)

        async def attempt() -> int:
            return await download_to(
                self._session_now(),
                url,
                dest,
                max_bytes=max_bytes,
                api_origin=self.base_url,
                authorization=f"Bearer {self._key.get_secret_value()}",
                allow_loopback=self.provider == "simulator",
                connect_timeout=self._connect_timeout,
                read_timeout=self._request_timeout,
                total_seconds=self._download_timeout,
                min_bytes_per_second=self._download_min_rate,
                error_for=self._error_for,
            )

        return await self._with_retries(attempt, f"GET {where}", creates_task=False)

    # ------------------------------------------------------------------ internals

    async def _create(self, path: str, body: dict[str, Any]) -> str:
        answer = await self._call("POST", path, json_body=body, creates_task=True)
        if self.provider == "cometapi":
            task_id = cometapi.created_task_id(answer)
        else:
            try:
                task_id = _model(CreatedTask, answer, "create answer").id
            except BadResponseError:
                raise MissingTaskIdError(
                    f"POST {path} was accepted but the answer names no task"
                ) from None
        log.info("created task %s via %s", task_id, path)
        return task_id

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        creates_task: bool = False,
        route: str | None = None,
    ) -> Any:
        """Send an API request with retries; returns the parsed JSON of a 2xx answer.

        DELETE answers (204) return None. ``route`` is the path's template for the latency
        histogram (``/v1/tasks/{id}``), when the path holds an id.
        """
        url = self.base_url + path
        headers = {
            "Authorization": f"Bearer {self._key.get_secret_value()}",
            "X-Runway-Version": self.api_version,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        payload = None if json_body is None else json.dumps(json_body).encode()
        label = f"{method} {path}"
        template = route or path

        async def attempt() -> Any:
            started = time.monotonic()
            try:
                return await send(started)
            finally:
                self.metrics.runway_request(method, template, time.monotonic() - started)

        async def send(started: float) -> Any:
            timeout = aiohttp.ClientTimeout(
                total=self._request_timeout, connect=self._connect_timeout
            )
            async with self._session_now().request(
                method,
                url,
                headers=headers,
                data=payload,
                timeout=timeout,
                allow_redirects=False,
            ) as response:
                elapsed = time.monotonic() - started
                log.debug("%s -> %d in %.2fs", label, response.status, elapsed)
                if response.status >= 300:
                    raise await self._error_for(response, label)
                data = await response.read()
                if method == "DELETE":
                    return None
                try:
                    return json.loads(data)
                except ValueError:
                    raise BadResponseError(
                        f"{label}: the answer is not JSON ({len(data)} bytes)"
                    ) from None

        return await self._with_retries(attempt, label, creates_task=creates_task)

    async def _with_retries(
        self, attempt: Callable[[], Awaitable[T]], label: str, *, creates_task: bool
    ) -> T:
        number = 0
        while True:
            try:
                try:
                    return await attempt()
                except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
                    raise self._translate(exc, label) from None
            except RunwayError as error:
                wait = self.retry.delay_for(error, number, creates_task=creates_task)
                if wait is None:
                    log.debug("%s failed for good: %s", label, error.message)
                    raise
                number += 1
                log.warning(
                    "%s failed (%s); retry %d/%d in %.2fs",
                    label,
                    error.message,
                    number,
                    self.retry.max_retries,
                    wait,
                )
                await self.retry.sleep(wait)

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})
        return self._session

    def _translate(self, exc: BaseException, label: str) -> RunwayError:
        """The RunwayError for an aiohttp/socket failure; says whether the request left."""
        text = self.scrub(f"{type(exc).__name__}: {exc}")[:_MAX_ERROR_TEXT]
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return RunwayConnectionError(
                f"{label}: could not connect in time ({text})", request_sent=False
            )
        if isinstance(exc, aiohttp.ClientConnectorError):
            return RunwayConnectionError(f"{label}: could not connect ({text})", request_sent=False)
        if isinstance(exc, TimeoutError):
            return RunwayTimeoutError(f"{label}: no answer in time")
        if isinstance(exc, aiohttp.ClientResponseError):
            return BadResponseError(f"{label}: malformed HTTP answer ({text})")
        return RunwayConnectionError(f"{label}: the connection broke ({text})")

    async def _error_for(self, response: aiohttp.ClientResponse, label: str) -> RunwayError:
        """The RunwayError for a non-2xx answer (never mentions headers or the key)."""
        status = response.status
        raw = (await response.read()).decode("utf-8", errors="replace")
        body: object = None
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if self.provider == "cometapi" and cometapi.is_task_not_exist(body):
            return TaskNotVisibleYet(
                f"{label}: the task is not visible at the gateway yet", status=status
            )
        detail = self.scrub(_error_detail(body, raw))
        message = f"{label}: HTTP {status}" + (f": {detail}" if detail else "")
        if status in (400, 413, 422):
            issues = [
                ValidationIssue(path=issue.path, message=self.scrub(issue.message))
                for issue in _issues(body)
            ]
            return RunwayValidationError(
                detail or f"{label}: the request was refused (HTTP {status})",
                issues=issues,
                status=status,
            )
        if status in (401, 403):
            if error_bodies.is_balance_exhausted(body):
                return BalanceExhaustedError(message, status=status)
            return AuthenticationError(message, status=status)
        if status in (404, 410):
            return NotFoundError(message, status=status)
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if error_bodies.is_daily_limit(body, raw):
                return DailyLimitError(message, retry_after=retry_after)
            return RateLimitedError(message, retry_after=retry_after)
        if status >= 500:
            return ServerError(message, status=status, shed=error_bodies.is_load_shedding(body))
        return RunwayError(message, status=status)

    def scrub(self, text: str) -> str:
        """``text`` with the API key (if it appears) replaced by ``[redacted]``."""
        key = self._key.get_secret_value()
        return text.replace(key, "[redacted]") if key in text else text


def _error_detail(body: object, raw: str) -> str:
    """A short human text from an error body: Runway ``error``, CometAPI ``code``/``message``."""
    parts: list[str] = []
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, str):
            parts.append(error)
        elif isinstance(error, dict) and isinstance(error.get("message"), str):
            parts.append(error["message"])
        message = body.get("message")
        if isinstance(message, str) and message and message not in parts:
            parts.append(message)
        code = body.get("code")
        if isinstance(code, str) and code and not parts:
            parts.append(code)
    elif raw and body is None:
        parts.append(" ".join(raw.split()))
    return "; ".join(parts)[:_MAX_ERROR_TEXT]


def _issues(body: object) -> list[ValidationIssue]:
    if not isinstance(body, dict) or not isinstance(body.get("issues"), list):
        return []
    issues: list[ValidationIssue] = []
    for item in body["issues"]:
        if not isinstance(item, dict):
            continue
        try:
            issues.append(ValidationIssue.model_validate(item))
        except ValidationError:
            message = item.get("message")
            issues.append(ValidationIssue(message=message if isinstance(message, str) else ""))
    return issues


def _model(model: type[M], body: object, what: str) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in err["loc"]) or "body" for err in exc.errors())
        raise BadResponseError(f"the {what} has an unexpected shape ({fields})") from None


def _segment(task_id: str) -> str:
    """A task id checked to be one safe path segment."""
    if not task_id or not all(c.isalnum() or c in "-_" for c in task_id):
        raise NotFoundError(f"{task_id[:80]!r} is not a valid task id")
    return task_id


def _safe_url(url: str) -> str:
    """The URL without its query (signed URLs carry tokens in it)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
