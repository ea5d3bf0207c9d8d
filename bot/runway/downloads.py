"""Stream a finished video from a (untrusted) URL to a file, bounded in time, size and reach.

Output links come from Runway or a gateway and are treated as untrusted:

* **Time**: an overall deadline covers redirects, headers and body; after a grace period
  the throughput over a sliding window must stay above a minimum, so a trickling CDN
  cannot hold a worker slot. Connect and per-read timeouts apply to every hop. The clock
  is injectable; the deadline is also enforced in real time around every await.
* **Size**: a declared ``Content-Length`` over the limit is refused before reading, and
  the stream is cut as soon as it passes the limit. The destination file is removed on
  any failure.
* **Key**: ``Authorization`` is sent only to the configured API origin (scheme, host and
  port, default ports normalised), and only while every hop so far stayed on it: once a
  redirect leaves the origin, the key is never sent again, even if a later hop comes back.
* **Reach**: redirects are followed here (never by aiohttp), up to a limit. Every hop,
  the first included, must be ``https://`` and must not point to a private, loopback,
  link-local, multicast, unspecified or otherwise non-public address (IPv4 inside IPv6
  judged as IPv4): literal IPs are checked directly, host names by resolving them
  (refused if ANY answer is unsafe). The configured API origin is always allowed (a
  gateway on a private host); in simulator mode (``allow_loopback``) so is the API's own
  loopback host on any port, over http too, and no other loopback address.
* **Rebinding**: a checked host name is not resolved again by aiohttp: the request goes
  to the address that was checked, with the original ``Host`` header and, for https, the
  original name for SNI and certificate verification.

Network errors of aiohttp (connect / read timeouts, broken connections) propagate
unchanged: the client translates them with its one mapping (``RunwayClient._translate``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import aiohttp
from yarl import URL

from .download_errors import DownloadDeadlineError, DownloadTooSlowError, UnsafeURLError
from .errors import (
    BadResponseError,
    OutputExpiredError,
    OutputTooLargeError,
    RateLimitedError,
    RunwayConnectionError,
    RunwayError,
    ServerError,
)
from .retry import parse_retry_after

__all__ = [
    "EXPIRED_STATUSES",
    "REDIRECT_STATUSES",
    "ErrorFor",
    "Resolve",
    "display_url",
    "download_to",
    "ensure_safe_url",
    "is_unsafe_address",
    "origin_of",
    "resolve_host",
]

Resolve = Callable[[str, int], Awaitable[Sequence[str]]]
"""``(host, port) -> addresses``: the DNS answers for a host name (injectable for tests)."""

ErrorFor = Callable[[aiohttp.ClientResponse, str], Awaitable[RunwayError]]
"""``(response, label) -> error`` for a non-2xx answer (the client's one mapping)."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# A signed output URL that is refused has expired (or its signature went stale).
EXPIRED_STATUSES = frozenset({400, 401, 403, 404, 410})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

_CHUNK = 64 * 1024
_MAX_PATH_SHOWN = 200
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Forms inet_aton reads as IPv4 although ipaddress does not ("127.1", "0x7f.1", "2130706433").
_LOOSE_IPV4 = re.compile(r"[0-9a-fA-FxX.]+")
_LOOPBACK_NAMES = ("localhost", "localhost.")


# ---------------------------------------------------------------- pure helpers


def origin_of(url: str | URL) -> str:
    """``scheme://host:port`` of ``url``, lower-cased, the port always explicit.

    ``https://API.example.com/x?y`` and ``https://api.example.com:443`` give the same
    origin. Raises ValueError for a URL without a scheme, a host or a known port.
    """
    parsed = url if isinstance(url, URL) else _parse(url)
    if not parsed.scheme or not parsed.host:
        raise ValueError("the URL has no scheme or no host")
    if parsed.port is None:
        raise ValueError(f"no port is known for {parsed.scheme}:// URLs")
    return f"{parsed.scheme.lower()}://{_bracketed(parsed.host.lower())}:{parsed.port}"


def display_url(url: str | URL) -> str:
    """``scheme://host[:port]/path`` for messages: no query, fragment nor credentials."""
    try:
        parsed = url if isinstance(url, URL) else _parse(url)
    except ValueError:
        return "an unreadable link"
    if not parsed.scheme or not parsed.host:
        return "a link without a host"
    host = _bracketed(parsed.host)
    port = "" if parsed.explicit_port is None or parsed.is_default_port() else f":{parsed.port}"
    path = parsed.raw_path
    if len(path) > _MAX_PATH_SHOWN:
        path = path[:_MAX_PATH_SHOWN] + "…"
    return f"{parsed.scheme}://{host}{port}{path}"


def is_unsafe_address(ip: str | IPAddress, *, allow_loopback: bool) -> bool:
    """Whether a download must never connect to ``ip``.

    Unsafe: private (10/8, 172.16/12, 192.168/16, fc00::/7, ...), link-local
    (169.254/16, fe80::/10), unspecified (0.0.0.0, ::), multicast, and anything else that
    is not globally routable (100.64/10, reserved ranges); loopback (127/8, ::1) unless
    ``allow_loopback``. IPv4 addresses embedded in IPv6 (mapped, 6to4, NAT64) are judged
    as IPv4. Raises ValueError when ``ip`` is not an IP address.
    """
    return _address_problem(_as_ip(ip), allow_loopback=allow_loopback) is not None


def _address_problem(ip: IPAddress, *, allow_loopback: bool) -> str | None:
    """Why ``ip`` is unsafe (``"a private address"``), or None when it is a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return _address_problem(embedded, allow_loopback=allow_loopback)
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "not a public address"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _as_ip(value: str | IPAddress) -> IPAddress:
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return value
    return ipaddress.ip_address(value)


def _literal_ip(host: str) -> IPAddress | None:
    """The IP a URL host denotes literally (including loose IPv4 forms), or None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _LOOSE_IPV4.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _parse(url: str) -> URL:
    try:
        return URL(url)
    except (TypeError, ValueError) as exc:
        raise ValueError("the link cannot be read") from exc


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _shown_host(url: URL) -> str:
    return _bracketed(url.host or "") or "an unknown host"


def _rate_text(bytes_per_second: float) -> str:
    if bytes_per_second >= 1024 * 1024 and bytes_per_second % (1024 * 1024) == 0:
        return f"{bytes_per_second / (1024 * 1024):g} MiB/s"
    if bytes_per_second >= 1024 and bytes_per_second % 1024 == 0:
        return f"{bytes_per_second / 1024:g} KiB/s"
    return f"{bytes_per_second:g} B/s"


# ---------------------------------------------------------------- URL checks


async def resolve_host(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, via the running event loop's ``getaddrinfo``."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def ensure_safe_url(
    url: str | URL,
    *,
    api_origin: str,
    allow_loopback: bool,
    resolve: Resolve | None = None,
    resolve_timeout: float = 10.0,
) -> IPAddress | None:
    """Raise UnsafeURLError unless a download may fetch ``url``; return the checked address
    to connect to (None for the trusted API host, which is connected to by name).

    The configured ``api_origin`` is always allowed (not even resolved); with
    ``allow_loopback`` (the local simulator) so is its host on any port when that host is
    a loopback one. Any other URL must be ``https://``, carry no credentials, and neither
    its literal IP nor any address its host name resolves to may be unsafe (see
    :func:`is_unsafe_address`; loopback is never safe here). A name that cannot be
    resolved raises RunwayConnectionError (``request_sent=False``).
    """
    try:
        parsed = url if isinstance(url, URL) else _parse(url)
        origin = origin_of(parsed)
    except ValueError:
        raise UnsafeURLError(
            f"refusing to download from {display_url(url)}: not a web link"
        ) from None
    where = display_url(parsed)
    api = _normalised_origin(api_origin)
    if origin == api:
        return None
    if parsed.user is not None or parsed.password is not None:
        raise UnsafeURLError(f"refusing to download from {where}: the link carries credentials")
    host = (parsed.host or "").lower()
    scheme = parsed.scheme.lower()
    if allow_loopback and scheme in ("http", "https") and _is_api_loopback_host(host, api):
        return None
    literal = _literal_ip(host)
    if scheme != "https":
        allowed = "https:// (or http:// to the simulator)" if allow_loopback else "https://"
        raise UnsafeURLError(
            f"refusing to download from {where}: only {allowed} links are accepted"
        )
    shown = _shown_host(parsed)
    if literal is not None:
        problem = _address_problem(literal, allow_loopback=False)
        if problem is not None:
            raise UnsafeURLError(f"refusing to download from {shown}: {problem}")
        return literal
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        raise UnsafeURLError(f"refusing to download from {shown}: a loopback address")
    port = parsed.port
    assert port is not None  # origin_of checked it
    addresses = await _resolve(resolve or resolve_host, host, port, resolve_timeout)
    checked: list[IPAddress] = []
    for address in addresses:
        try:
            ip = _as_ip(address.split("%", 1)[0])
        except ValueError:
            raise UnsafeURLError(
                f"refusing to download from {shown}: it resolves to an unreadable address"
            ) from None
        problem = _address_problem(ip, allow_loopback=False)
        if problem is not None:
            raise UnsafeURLError(
                f"refusing to download from {shown}: it resolves to {ip}, {problem}"
            )
        checked.append(ip)
    return checked[0]


def _is_api_loopback_host(host: str, api_origin: str) -> bool:
    """``host`` is the API origin's own host and that host is a loopback one."""
    api_host = URL(api_origin).host or ""
    if host != api_host.lower():
        return False
    literal = _literal_ip(host)
    if literal is not None:
        return _unwrapped(literal).is_loopback
    return host in _LOOPBACK_NAMES or host.endswith(".localhost")


def _unwrapped(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address):
        return _embedded_ipv4(ip) or ip
    return ip


def _normalised_origin(api_origin: str) -> str:
    try:
        return origin_of(api_origin)
    except ValueError:
        raise ValueError("api_origin must be an http(s) URL with a host") from None


async def _resolve(resolve: Resolve, host: str, port: int, seconds: float) -> Sequence[str]:
    try:
        async with asyncio.timeout(seconds) as scope:
            addresses = await resolve(host, port)
    except TimeoutError:
        if not scope.expired():
            raise
        raise RunwayConnectionError(
            f"could not resolve {host} in time", request_sent=False
        ) from None
    except OSError as exc:  # socket.gaierror and friends
        raise RunwayConnectionError(
            f"could not resolve {host} ({type(exc).__name__})", request_sent=False
        ) from None
    if not addresses:
        raise RunwayConnectionError(f"{host} resolves to no address", request_sent=False)
    return addresses


# ---------------------------------------------------------------- the download


async def download_to(
    session: aiohttp.ClientSession,
    url: str,
    dest: Path,
    *,
    max_bytes: int,
    api_origin: str,
    authorization: str | None,
    allow_loopback: bool,
    connect_timeout: float,
    read_timeout: float,
    total_seconds: float = 300.0,
    min_bytes_per_second: float = 65536.0,
    grace_seconds: float = 10.0,
    window_seconds: float = 10.0,
    max_redirects: int = 5,
    clock: Callable[[], float] = time.monotonic,
    resolve: Resolve | None = None,
    error_for: ErrorFor | None = None,
) -> int:
    """Stream ``url`` to ``dest``; returns the number of bytes written.

    ``api_origin`` is the configured base URL (or its origin); ``authorization`` the
    ``Authorization`` header value sent only to that origin (see the module docstring).
    ``min_bytes_per_second <= 0`` turns the throughput check off. ``error_for`` builds
    the error of a non-2xx, non-expired answer (default: ServerError for 5xx,
    RateLimitedError for 429, RunwayError otherwise).

    Raises:
        UnsafeURLError: a refused link or redirect, or more than ``max_redirects`` hops.
        OutputExpiredError: 400/401/403/404/410 (the signed link expired).
        OutputTooLargeError: declared or streamed size over ``max_bytes``.
        DownloadTooSlowError: throughput below the minimum after the grace period.
        DownloadDeadlineError: not finished within ``total_seconds``.
        RunwayConnectionError: a host name could not be resolved (nothing was sent).
        BadResponseError: a redirect without a Location.
        RunwayError: from ``error_for`` for other non-2xx answers.
        aiohttp.ClientError / TimeoutError: network failures, unchanged.

    ``dest`` is removed on any failure (cancellation included).
    """
    if max_bytes < 0 or max_redirects < 0:
        raise ValueError("max_bytes and max_redirects must not be negative")
    if total_seconds <= 0 or window_seconds <= 0 or grace_seconds < 0:
        raise ValueError("total_seconds and window_seconds must be positive, grace not negative")
    job = _Download(
        session,
        dest,
        max_bytes=max_bytes,
        api_origin=_normalised_origin(api_origin),
        authorization=authorization,
        allow_loopback=allow_loopback,
        timeout=aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=read_timeout),
        resolve_timeout=connect_timeout,
        total_seconds=total_seconds,
        min_bytes_per_second=min_bytes_per_second,
        grace_seconds=grace_seconds,
        window_seconds=window_seconds,
        max_redirects=max_redirects,
        clock=clock,
        resolve=resolve,
        error_for=error_for or _fallback_error,
    )
    try:
        try:
            async with asyncio.timeout(total_seconds) as scope:
                return await job.run(url)
        except TimeoutError:
            if not scope.expired():
                raise
            raise job.deadline_error() from None
    except BaseException:
        _discard(dest)
        raise


def _discard(path: Path) -> None:
    """Remove a partial download."""
    path.unlink(missing_ok=True)


class _Throughput:
    """Bytes per second over a sliding window, judged only after a grace period."""

    def __init__(self, *, start: float, minimum: float, grace: float, window: float) -> None:
        self._start = start
        self._minimum = minimum
        self._grace = grace
        self._window = window
        self._samples: deque[tuple[float, int]] = deque([(start, 0)])

    def too_slow(self, now: float, total: int) -> bool:
        """Record ``total`` bytes at ``now``; True when the window's rate is under the minimum.

        The baseline is the latest sample at least one window old (the start while the
        download is younger than a window), so the rate is never judged on a shorter span.
        """
        self._samples.append((now, total))
        cutoff = now - self._window
        while len(self._samples) > 1 and self._samples[1][0] <= cutoff:
            self._samples.popleft()
        if self._minimum <= 0 or now - self._start < self._grace:
            return False
        base_time, base_total = self._samples[0]
        span = now - base_time
        return span > 0 and (total - base_total) / span < self._minimum


class _Download:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        dest: Path,
        *,
        max_bytes: int,
        api_origin: str,
        authorization: str | None,
        allow_loopback: bool,
        timeout: aiohttp.ClientTimeout,
        resolve_timeout: float,
        total_seconds: float,
        min_bytes_per_second: float,
        grace_seconds: float,
        window_seconds: float,
        max_redirects: int,
        clock: Callable[[], float],
        resolve: Resolve | None,
        error_for: ErrorFor,
    ) -> None:
        self.session = session
        self.dest = dest
        self.max_bytes = max_bytes
        self.api_origin = api_origin
        self.authorization = authorization
        self.allow_loopback = allow_loopback
        self.timeout = timeout
        self.resolve_timeout = resolve_timeout
        self.total_seconds = total_seconds
        self.min_bytes_per_second = min_bytes_per_second
        self.grace_seconds = grace_seconds
        self.window_seconds = window_seconds
        self.max_redirects = max_redirects
        self.clock = clock
        self.resolve = resolve
        self.error_for = error_for
        self.deadline = clock() + total_seconds
        self.host = "an unknown host"

    def deadline_error(self) -> DownloadDeadlineError:
        return DownloadDeadlineError(
            self._scrub(
                f"the download from {self.host} did not finish within {self.total_seconds:g} s"
            )
        )

    def _check_deadline(self) -> None:
        if self.clock() >= self.deadline:
            raise self.deadline_error()

    def _scrub(self, text: str) -> str:
        """Belt and braces: messages are built from hosts and paths, never from headers."""
        if not self.authorization:
            return text
        secrets = {self.authorization, self.authorization.partition(" ")[2]}
        for secret in sorted(secrets, key=len, reverse=True):
            if len(secret) >= 8:
                text = text.replace(secret, "[redacted]")
        return text

    async def run(self, url: str) -> int:
        try:
            current = _parse(url)
        except ValueError:
            raise UnsafeURLError("refusing to download from an unreadable link") from None
        on_origin_so_far = True
        for hop in range(self.max_redirects + 1):
            self._check_deadline()
            self.host = _shown_host(current)
            try:
                pinned = await ensure_safe_url(
                    current,
                    api_origin=self.api_origin,
                    allow_loopback=self.allow_loopback,
                    resolve=self.resolve,
                    resolve_timeout=self.resolve_timeout,
                )
            except UnsafeURLError as error:
                raise UnsafeURLError(self._scrub(error.message)) from None
            on_origin_so_far = on_origin_so_far and origin_of(current) == self.api_origin
            headers: dict[str, str] = {}
            if self.authorization is not None and on_origin_so_far:
                headers["Authorization"] = self.authorization
            where = self._scrub(display_url(current))
            target, server_hostname = _pinned_request(current, pinned, headers)
            async with self.session.get(
                target,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
                server_hostname=server_hostname,
            ) as response:
                if response.status in REDIRECT_STATUSES:
                    if hop == self.max_redirects:
                        raise UnsafeURLError(
                            f"refusing to follow more than {self.max_redirects} redirects "
                            f"(the last from {where})"
                        )
                    current = self._next_hop(current, response, where)
                    continue
                return await self._save(response, where)
        raise AssertionError("unreachable")  # pragma: no cover

    def _next_hop(self, current: URL, response: aiohttp.ClientResponse, where: str) -> URL:
        """The redirect's target, resolved against ``current`` (the name, not the pinned IP)."""
        location = response.headers.get("Location")
        if not location:
            raise BadResponseError(
                f"download from {where}: HTTP {response.status} redirect without a Location",
                status=response.status,
            )
        try:
            target = current.join(URL(location))
        except (TypeError, ValueError):
            raise UnsafeURLError(
                f"refusing to follow an unreadable redirect from {where}"
            ) from None
        return target.with_fragment(None)

    async def _save(self, response: aiohttp.ClientResponse, where: str) -> int:
        status = response.status
        if status in EXPIRED_STATUSES:
            raise OutputExpiredError(
                f"the output link is no longer valid ({status} from {where})", status=status
            )
        if not 200 <= status < 300:
            raise await self.error_for(response, f"download from {where}")
        declared = response.content_length
        if declared is not None and declared > self.max_bytes:
            raise OutputTooLargeError(
                f"the output is {declared} bytes, over the {self.max_bytes}-byte limit",
                size=declared,
                limit=self.max_bytes,
            )
        meter = _Throughput(
            start=self.clock(),
            minimum=self.min_bytes_per_second,
            grace=self.grace_seconds,
            window=self.window_seconds,
        )
        size = 0
        with self.dest.open("wb") as handle:
            while chunk := await response.content.read(_CHUNK):
                size += len(chunk)
                if size > self.max_bytes:
                    raise OutputTooLargeError(
                        f"the output is over the {self.max_bytes}-byte limit",
                        limit=self.max_bytes,
                    )
                handle.write(chunk)
                now = self.clock()
                if now >= self.deadline:
                    raise self.deadline_error()
                if meter.too_slow(now, size):
                    raise DownloadTooSlowError(
                        f"the download from {self.host} stalled below "
                        f"{_rate_text(self.min_bytes_per_second)}"
                    )
        return size


def _pinned_request(
    url: URL, pinned: IPAddress | None, headers: dict[str, str]
) -> tuple[URL, str | None]:
    """The URL to request and the TLS server name: ``url`` itself when nothing is pinned,
    else ``url`` on the checked address with the original ``Host`` header (added to
    ``headers``) and, for https, the original name for SNI and certificate checks."""
    if pinned is None:
        return url, None
    name = url.raw_host or ""
    headers["Host"] = name if url.is_default_port() else f"{_bracketed(name)}:{url.port}"
    server_hostname = name if url.scheme.lower() == "https" and name else None
    return url.with_host(str(pinned)), server_hostname


async def _fallback_error(response: aiohttp.ClientResponse, label: str) -> RunwayError:
    """A non-2xx answer when the caller gave no ``error_for`` (the body is not read)."""
    status = response.status
    message = f"{label}: HTTP {status}"
    if status == 429:
        return RateLimitedError(
            message, retry_after=parse_retry_after(response.headers.get("Retry-After"))
        )
    if status >= 500:
        return ServerError(message, status=status)
    return RunwayError(message, status=status)
