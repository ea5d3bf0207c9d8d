"""bot.runway.downloads over real HTTP on 127.0.0.1: two plain aiohttp servers on different
ports stand in for the API origin and a foreign CDN. Time is a step clock where a rule
depends on it; DNS answers come from a fake resolver, so nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from bot.runway.download_errors import DownloadDeadlineError, DownloadTooSlowError, UnsafeURLError
from bot.runway.downloads import (
    _Throughput,
    display_url,
    download_to,
    ensure_safe_url,
    is_unsafe_address,
    origin_of,
)
from bot.runway.errors import (
    BadResponseError,
    OutputExpiredError,
    OutputTooLargeError,
    RunwayConnectionError,
    RunwayError,
    ServerError,
)

pytestmark = pytest.mark.timeout(30)

KEY = "key_" + "0123456789abcdef" * 8
BEARER = f"Bearer {KEY}"
SECRET = "s3cr3t-signature"
# A simulator's base URL on 127.0.0.1 (another port): the CDN fixture on the same loopback
# host stands in for a foreign host whose timing and size rules are under test.
SIM_ORIGIN = "http://127.0.0.1:9"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Host:
    """A plain aiohttp server on 127.0.0.1 (port 0) that records every request."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.seen: list[tuple[str, str | None]] = []
        self.release = asyncio.Event()
        self.base_url = ""
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        self.release.set()
        await self._runner.cleanup()

    def auth_of(self, path: str) -> list[str | None]:
        return [auth for seen_path, auth in self.seen if seen_path == path]

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.seen.append((request.path, request.headers.get("Authorization")))
        handler = self.routes.get(request.path)
        if handler is None:
            return web.Response(status=599, text="no such route in the test")
        return await handler(request)

    # -- handlers

    def body(self, data: bytes, *, status: int = 200, text: str | None = None) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            if text is not None:
                return web.Response(status=status, text=text)
            return web.Response(status=status, body=data)

        return handler

    def redirect(self, location: str | None, *, status: int = 302) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            headers = {} if location is None else {"Location": location}
            return web.Response(status=status, headers=headers)

        return handler

    def chunked(self, pieces: int, size: int) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            await response.prepare(request)
            for _ in range(pieces):
                await response.write(b"x" * size)
            await response.write_eof()
            return response

        return handler

    def trickle(self, piece: bytes, pause: float) -> Handler:
        """Sends ``piece`` every ``pause`` seconds until the client leaves or the test ends."""

        async def handler(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            await response.prepare(request)
            try:
                while not self.release.is_set():
                    await response.write(piece)
                    await asyncio.sleep(pause)
            except (ConnectionError, aiohttp.ClientConnectionResetError):
                pass
            return response

        return handler

    def declare_then_stall(self, length: int) -> Handler:
        """Headers with a Content-Length, then no body until the test ends."""

        async def handler(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse()
            response.content_length = length
            await response.prepare(request)
            await self.release.wait()
            return response

        return handler

    def stall_headers(self) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            await self.release.wait()
            return web.Response(body=b"late")

        return handler


@pytest.fixture
async def api() -> AsyncIterator[Host]:
    host = Host()
    await host.start()
    try:
        yield host
    finally:
        await host.stop()


@pytest.fixture
async def cdn() -> AsyncIterator[Host]:
    host = Host()
    await host.start()
    try:
        yield host
    finally:
        await host.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


class StepClock:
    """Each reading is ``step`` seconds after the previous one."""

    def __init__(self, step: float = 1.0) -> None:
        self.now = 1000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class FakeDNS:
    """Answers from a table; unknown names fail like getaddrinfo does."""

    def __init__(self, answers: dict[str, list[str]] | None = None) -> None:
        self.answers = answers or {}
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append((host, port))
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.answers[host]


async def fetch(
    session: aiohttp.ClientSession, url: str, dest: Path, *, api_origin: str, **overrides: Any
) -> int:
    kwargs: dict[str, Any] = {
        "max_bytes": 1_000_000,
        "api_origin": api_origin,
        "authorization": BEARER,
        "allow_loopback": True,
        "connect_timeout": 2.0,
        "read_timeout": 3.0,
        "total_seconds": 20.0,
        "resolve": FakeDNS(),
    }
    kwargs.update(overrides)
    return await download_to(session, url, dest, **kwargs)


def texts_of(error: BaseException) -> list[str]:
    texts = [str(error), repr(error), *map(str, error.args)]
    if isinstance(error, RunwayError):
        texts.append(error.message)
    return texts


# ---------------------------------------------------------------- pure helpers


def test_origin_of_normalises_scheme_host_and_default_ports() -> None:
    assert origin_of("https://API.Example.com/v1/x?sig=1#f") == "https://api.example.com:443"
    assert origin_of("https://api.example.com:443") == "https://api.example.com:443"
    assert origin_of("HTTP://example.com") == "http://example.com:80"
    assert origin_of("http://example.com:80/runwayml") == "http://example.com:80"
    assert origin_of("http://[::1]:8080/x") == "http://[::1]:8080"
    assert origin_of("https://example.com:8443/") != origin_of("https://example.com/")
    assert origin_of("http://example.com/") != origin_of("https://example.com/")
    for bad in ("/relative/path", "mailto:someone@example.com", "file:///etc/passwd"):
        with pytest.raises(ValueError):
            origin_of(bad)


def test_display_url_drops_query_fragment_and_credentials() -> None:
    shown = display_url(f"https://user:{SECRET}@cdn.example.com:8443/a/b.mp4?sig={SECRET}#x")
    assert shown == "https://cdn.example.com:8443/a/b.mp4"
    assert display_url("https://cdn.example.com:443/a") == "https://cdn.example.com/a"


@pytest.mark.parametrize(
    ("ip", "unsafe"),
    [
        ("10.0.0.5", True),
        ("172.16.3.4", True),
        ("172.31.255.255", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("0.0.0.0", True),
        ("100.64.0.1", True),
        ("224.0.0.1", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::", True),
        ("fe80::1", True),
        ("fd00::1", True),
        ("fc00::5", True),
        ("::ffff:10.0.0.5", True),
        ("::ffff:127.0.0.1", True),
        ("64:ff9b::a00:5", True),
        ("2002:a00:5::1", True),
        ("93.184.216.34", False),
        ("8.8.8.8", False),
        ("172.32.0.1", False),
        ("2606:4700::1111", False),
        ("::ffff:8.8.8.8", False),
    ],
)
def test_is_unsafe_address(ip: str, unsafe: bool) -> None:
    assert is_unsafe_address(ip, allow_loopback=False) is unsafe


@pytest.mark.parametrize("ip", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_loopback_addresses_are_safe_only_with_allow_loopback(ip: str) -> None:
    assert is_unsafe_address(ip, allow_loopback=False)
    assert not is_unsafe_address(ip, allow_loopback=True)


@pytest.mark.parametrize("ip", ["10.0.0.5", "169.254.169.254", "0.0.0.0", "fe80::1"])
def test_allow_loopback_does_not_open_other_ranges(ip: str) -> None:
    assert is_unsafe_address(ip, allow_loopback=True)


def test_is_unsafe_address_rejects_non_addresses() -> None:
    with pytest.raises(ValueError):
        is_unsafe_address("cdn.example.com", allow_loopback=False)


def test_throughput_is_judged_over_the_window_after_the_grace() -> None:
    meter = _Throughput(start=0.0, minimum=100.0, grace=10.0, window=5.0)
    assert not meter.too_slow(9.9, 10)  # far too slow, but still in the grace period
    assert meter.too_slow(10.0, 10)  # 10 bytes over 10 s
    meter = _Throughput(start=0.0, minimum=100.0, grace=10.0, window=5.0)
    assert not meter.too_slow(5.0, 5_000)
    assert not meter.too_slow(10.0, 10_000)  # 1000 B/s over the last 5 s
    assert meter.too_slow(15.0, 10_100)  # 100 bytes over the last 5 s: 20 B/s
    meter = _Throughput(start=0.0, minimum=0.0, grace=0.0, window=5.0)
    assert not meter.too_slow(100.0, 1)  # minimum 0: the check is off


# ---------------------------------------------------------------- the key


async def test_the_key_goes_to_the_api_origin_and_never_to_another(
    api: Host, cdn: Host, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    api.routes["/runwayml/v1/videos/abc/content"] = api.body(b"api-video")
    cdn.routes["/clip.mp4"] = cdn.body(b"cdn-video")
    gateway = f"{api.base_url}/runwayml"
    dest = tmp_path / "clip.bin"

    size = await fetch(session, f"{gateway}/v1/videos/abc/content", dest, api_origin=gateway)
    assert size == 9 and dest.read_bytes() == b"api-video"
    size = await fetch(session, f"{cdn.base_url}/clip.mp4?sig={SECRET}", dest, api_origin=gateway)
    assert size == 9 and dest.read_bytes() == b"cdn-video"

    assert api.auth_of("/runwayml/v1/videos/abc/content") == [BEARER]
    assert cdn.auth_of("/clip.mp4") == [None]


async def test_the_key_is_not_resent_across_a_redirect_to_another_origin(
    api: Host, cdn: Host, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    api.routes["/v1/videos/abc/content"] = api.redirect("/v1/videos/abc/file")
    api.routes["/v1/videos/abc/file"] = api.redirect(f"{cdn.base_url}/clip.mp4?sig={SECRET}")
    cdn.routes["/clip.mp4"] = cdn.body(b"video")
    dest = tmp_path / "clip.bin"

    size = await fetch(
        session, f"{api.base_url}/v1/videos/abc/content", dest, api_origin=api.base_url
    )

    assert size == 5
    # a relative redirect on the origin keeps the key; the hop to the CDN does not get it
    assert api.auth_of("/v1/videos/abc/content") == [BEARER]
    assert api.auth_of("/v1/videos/abc/file") == [BEARER]
    assert cdn.auth_of("/clip.mp4") == [None]


async def test_once_off_the_origin_a_redirect_back_does_not_get_the_key(
    api: Host, cdn: Host, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    cdn.routes["/bounce"] = cdn.redirect(f"{api.base_url}/v1/organization")
    api.routes["/v1/organization"] = api.body(b"{}")

    await fetch(session, f"{cdn.base_url}/bounce", tmp_path / "x", api_origin=api.base_url)

    assert cdn.auth_of("/bounce") == [None]
    assert api.auth_of("/v1/organization") == [None]


async def test_no_authorization_means_no_header(
    api: Host, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    api.routes["/clip"] = api.body(b"v")
    await fetch(
        session, f"{api.base_url}/clip", tmp_path / "x", api_origin=api.base_url, authorization=None
    )
    assert api.auth_of("/clip") == [None]


# ---------------------------------------------------------------- redirects and reach


async def test_a_redirect_to_plain_http_off_loopback_is_refused(
    api: Host, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    api.routes["/go"] = api.redirect(f"http://cdn.example.com/clip.mp4?sig={SECRET}")
    dns = FakeDNS({"cdn.example.com": ["93.184.216.34"]})

    with pytest.raises(UnsafeURLError) as caught:
        await fetch(
            session, f"{api.base_url}/go", tmp_path / "x", api_origin=api.base_url, resolve=dns
        )

    assert caught.value.message == (
        "refusing to download from http://cdn.example.com/clip.mp4: "
        "only https:// (or http:// to the simulator) links are accepted"
    )
    assert not caught.value.transient
    assert dns.calls == []


async def test_a_redirect_chain_that_is_too_long_is_refused(
    api: Host, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    for n in range(10):
        api.routes[f"/hop/{n}"] = api.redirect(f"/hop/{n + 1}?sig={SECRET}", status=307)
    api.routes["/hop/3"] = api.body(b"done")
    dest = tmp_path / "x"

    assert (
        await fetch(
            session, f"{api.base_url}/hop/0", dest, api_origin=api.base_url, max_redirects=3
        )
        == 4
    )

    api.routes["/hop/3"] = api.redirect("/hop/4")
    with pytest.raises(UnsafeURLError, match="more than 3 redirects") as caught:
        await fetch(
            session, f"{api.base_url}/hop/0", dest, api_origin=api.base_url, max_redirects=3
        )
    assert SECRET not in caught.value.message
    assert [path for path, _ in api.seen].count("/hop/3") == 2
    assert len(api.seen) == 8  # 4 hops each time, never a fifth
    assert not dest.exists()


async def test_a_redirect_without_location_is_a_bad_response(
    api: Host, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    api.routes["/go"] = api.redirect(None, status=302)
    with pytest.raises(BadResponseError, match="redirect without a Location"):
        await fetch(session, f"{api.base_url}/go", tmp_path / "x", api_origin=api.base_url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://10.0.0.5/clip.mp4", "refusing to download from 10.0.0.5: a private address"),
        ("https://172.16.0.1/c", "refusing to download from 172.16.0.1: a private address"),
        ("https://192.168.1.20/c", "refusing to download from 192.168.1.20: a private address"),
        (
            "https://169.254.169.254/latest/meta-data",
            "refusing to download from 169.254.169.254: a link-local address",
        ),
        ("https://[fe80::1]/c", "refusing to download from [fe80::1]: a link-local address"),
        ("https://[fd12:3456::1]/c", "refusing to download from [fd12:3456::1]: a private address"),
        ("https://0.0.0.0/c", "refusing to download from 0.0.0.0: an unspecified address"),
        (
            "https://[::ffff:10.0.0.5]/c",
            "refusing to download from [::ffff:a00:5]: a private address",
        ),
        ("https://127.0.0.1:9/c", "refusing to download from 127.0.0.1: a loopback address"),
        ("https://127.1/c", "refusing to download from 127.1: a loopback address"),
    ],
)
async def test_private_and_link_local_literal_ips_are_refused(
    url: str, message: str, api: Host, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    dest = tmp_path / "x"
    with pytest.raises(UnsafeURLError) as caught:
        await fetch(
            session, f"{url}?sig={SECRET}", dest, api_origin=api.base_url, allow_loopback=False
        )
    assert caught.value.message == message
    assert not dest.exists()

    # the same target reached through a redirect from the API
    api.routes["/go"] = api.redirect(f"{url}?sig={SECRET}")
    with pytest.raises(UnsafeURLError) as caught:
        await fetch(
            session, f"{api.base_url}/go", dest, api_origin=api.base_url, allow_loopback=False
        )
    assert caught.value.message == message


async def test_a_host_name_resolving_to_a_private_address_is_refused(
    api: Host, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    dns = FakeDNS(
        {
            "cdn.example.com": ["93.184.216.34", "10.0.0.5"],
            "meta.example.com": ["169.254.169.254"],
        }
    )
    with pytest.raises(UnsafeURLError) as caught:
        await fetch(
            session,
            f"https://cdn.example.com/clip.mp4?sig={SECRET}",
            tmp_path / "x",
            api_origin=api.base_url,
            resolve=dns,
        )
    assert caught.value.message == (
        "refusing to download from cdn.example.com: it resolves to 10.0.0.5, a private address"
    )
    assert dns.calls == [("cdn.example.com", 443)]

    api.routes["/go"] = api.redirect("https://meta.example.com:8443/x")
    with pytest.raises(
        UnsafeURLError, match=re.escape("resolves to 169.254.169.254, a link-local address")
    ):
        await fetch(
            session, f"{api.base_url}/go", tmp_path / "x", api_origin=api.base_url, resolve=dns
        )
    assert dns.calls[-1] == ("meta.example.com", 8443)


async def test_a_public_host_name_passes_the_check() -> None:
    dns = FakeDNS({"cdn.example.com": ["93.184.216.34", "2606:4700::1111"]})
    await ensure_safe_url(
        "https://cdn.example.com/c.mp4",
        api_origin="https://api.example.com",
        allow_loopback=False,
        resolve=dns,
    )
    assert dns.calls == [("cdn.example.com", 443)]


async def test_a_name_that_does_not_resolve_is_a_connection_error_before_sending() -> None:
    with pytest.raises(
        RunwayConnectionError, match=re.escape("could not resolve nowhere.example")
    ) as caught:
        await ensure_safe_url(
            "https://nowhere.example/c",
            api_origin="https://api.example.com",
            allow_loopback=False,
            resolve=FakeDNS(),
        )
    assert caught.value.request_sent is False and caught.value.transient


async def test_loopback_is_allowed_only_at_the_simulators_own_host(
    api: Host, cdn: Host, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    cdn.routes["/clip.mp4"] = cdn.body(b"video")
    url = f"{cdn.base_url}/clip.mp4"  # 127.0.0.1, another port than the API's
    assert (
        await fetch(session, url, tmp_path / "x", api_origin=api.base_url, allow_loopback=True) == 5
    )
    with pytest.raises(UnsafeURLError, match="only https:// links are accepted"):
        await fetch(session, url, tmp_path / "x", api_origin=api.base_url, allow_loopback=False)
    assert len(cdn.seen) == 1

    # Every other loopback spelling is refused, simulator or not, http or https.
    dns = FakeDNS({"localhost": ["127.0.0.1", "::1"], "rebind.example.com": ["127.0.0.1"]})
    for target, refusal in [
        ("https://127.0.0.2/c", "127.0.0.2: a loopback address"),
        ("http://127.0.0.2:8000/c", "only https://"),
        ("https://[::1]/c", "[::1]: a loopback address"),
        ("https://[::ffff:127.0.0.1]/c", "a loopback address"),
        ("https://localhost/c", "localhost: a loopback address"),
        ("https://sim.localhost/c", "a loopback address"),
        ("http://localhost:8000/c", "only https://"),
        ("https://0.0.0.0/c", "0.0.0.0: an unspecified address"),
        ("https://[::]/c", "an unspecified address"),
        ("https://2130706433/c", "a loopback address"),
        ("https://127.1/c", "a loopback address"),
        ("https://169.254.169.254/latest/meta-data/", "a link-local address"),
        ("https://[fd00:ec2::254]/latest/meta-data/", "a private address"),
        ("https://224.0.0.1/c", "a multicast address"),
        ("https://rebind.example.com/c", "it resolves to 127.0.0.1, a loopback address"),
    ]:
        for loopback in (True, False):
            with pytest.raises(UnsafeURLError, match=re.escape(refusal)):
                await ensure_safe_url(
                    target, api_origin=api.base_url, allow_loopback=loopback, resolve=dns
                )
    # simulator mode allows plain http only to the simulator's host
    with pytest.raises(UnsafeURLError, match="only https://"):
        await ensure_safe_url(
            "http://93.184.216.34/c", api_origin=api.base_url, allow_loopback=True, resolve=dns
        )


async def test_a_checked_name_is_connected_to_at_the_checked_address(
    api: Host, cdn: Host, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """No second lookup by aiohttp (DNS rebinding): the request goes to the address the
    check saw, with the original Host header."""
    port = int(cdn.base_url.rsplit(":", 1)[1])
    dns = FakeDNS({"cdn.example.com": ["93.184.216.34"]})
    seen_hosts: list[str] = []

    async def record(request: web.Request) -> web.StreamResponse:
        seen_hosts.append(request.headers.get("Host", ""))
        return web.Response(body=b"pinned")

    cdn.routes["/clip.mp4"] = record
    pinned = await ensure_safe_url(
        f"https://cdn.example.com:{port}/clip.mp4",
        api_origin=api.base_url,
        allow_loopback=False,
        resolve=dns,
    )
    assert str(pinned) == "93.184.216.34" and dns.calls == [("cdn.example.com", port)]

    from bot.runway.downloads import _pinned_request

    headers: dict[str, str] = {}
    target, name = _pinned_request(URL(f"https://cdn.example.com:{port}/c?s=1"), pinned, headers)
    assert str(target) == f"https://93.184.216.34:{port}/c?s=1"
    assert headers == {"Host": f"cdn.example.com:{port}"}
    assert name == "cdn.example.com"
    headers = {}
    target, name = _pinned_request(URL("https://cdn.example.com/c"), pinned, headers)
    assert (str(target), headers) == ("https://93.184.216.34/c", {"Host": "cdn.example.com"})

    # Over a real connection: a loopback CDN pinned by address answers with the Host header
    # of the name (plain http, as only the simulator's host may use it).
    headers = {}
    target, name = _pinned_request(
        URL(f"http://cdn.example.com:{port}/clip.mp4"), ipaddress.ip_address("127.0.0.1"), headers
    )
    assert name is None  # plain http: no TLS name
    async with session.get(target, headers=headers) as response:
        assert await response.read() == b"pinned"
    assert seen_hosts == [f"cdn.example.com:{port}"]


async def test_the_configured_api_origin_is_allowed_even_when_private_or_loopback(
    api: Host, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    api.routes["/v1/videos/abc/content"] = api.body(b"video")
    size = await fetch(
        session,
        f"{api.base_url}/v1/videos/abc/content",
        tmp_path / "x",
        api_origin=api.base_url,
        allow_loopback=False,
    )
    assert size == 5 and api.auth_of("/v1/videos/abc/content") == [BEARER]

    dns = FakeDNS()  # any lookup would fail: the API origin is not even resolved
    for origin, url in [
        ("http://10.0.0.5:8080/runwayml", "http://10.0.0.5:8080/runwayml/v1/videos/a/content"),
        ("http://gateway.internal:8080", "HTTP://Gateway.Internal:8080/v1/videos/a/content"),
        ("https://api.example.com", "https://api.example.com:443/v1/videos/a/content"),
    ]:
        await ensure_safe_url(url, api_origin=origin, allow_loopback=False, resolve=dns)
    assert dns.calls == []
    # ... but only that exact origin: another port or scheme on the same host is checked
    with pytest.raises(UnsafeURLError):
        await ensure_safe_url(
            "http://10.0.0.5:8081/x", api_origin="http://10.0.0.5:8080", allow_loopback=False
        )
    with pytest.raises(UnsafeURLError):
        await ensure_safe_url(
            "https://10.0.0.5:8080/x", api_origin="http://10.0.0.5:8080", allow_loopback=False
        )


@pytest.mark.parametrize(
    ("url", "match"),
    [
        (f"https://user:{SECRET}@cdn.example.com/x", "the link carries credentials"),
        ("file:///etc/passwd", "not a web link"),
        ("ftp://cdn.example.com/x", "only https://"),
        ("/v1/relative", "not a web link"),
    ],
)
async def test_other_links_are_refused(
    url: str, match: str, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    with pytest.raises(UnsafeURLError, match=match) as caught:
        await fetch(session, url, tmp_path / "x", api_origin="https://api.example.com")
    assert SECRET not in caught.value.message


# ---------------------------------------------------------------- time bounds


async def test_a_trickling_server_is_too_slow(
    cdn: Host, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    cdn.routes["/clip.mp4"] = cdn.trickle(b"x" * 16, 0.002)
    dest = tmp_path / "clip.bin"
    started = time.monotonic()

    with pytest.raises(DownloadTooSlowError) as caught:
        await fetch(
            session,
            f"{cdn.base_url}/clip.mp4?sig={SECRET}",
            dest,
            api_origin=SIM_ORIGIN,
            clock=StepClock(1.0),
            grace_seconds=3.0,
            window_seconds=2.0,
            total_seconds=500.0,
        )

    assert type(caught.value) is DownloadTooSlowError
    assert caught.value.message == "the download from 127.0.0.1 stalled below 64 KiB/s"
    assert caught.value.transient
    assert not dest.exists()
    assert time.monotonic() - started < 3.0


async def test_the_whole_download_has_a_deadline(
    cdn: Host, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    cdn.routes["/clip.mp4"] = cdn.trickle(b"x" * 1024, 0.002)
    dest = tmp_path / "clip.bin"
    started = time.monotonic()

    with pytest.raises(DownloadDeadlineError) as caught:
        await fetch(
            session,
            f"{cdn.base_url}/clip.mp4?sig={SECRET}",
            dest,
            api_origin=SIM_ORIGIN,
            clock=StepClock(1.0),
            total_seconds=5.0,
            min_bytes_per_second=0,
        )

    assert caught.value.message == "the download from 127.0.0.1 did not finish within 5 s"
    assert caught.value.transient
    assert not dest.exists()
    assert time.monotonic() - started < 2.0  # the step clock ended it, not the wall


async def test_the_deadline_also_holds_in_real_time_while_waiting(
    cdn: Host, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    cdn.routes["/clip.mp4"] = cdn.stall_headers()
    started = time.monotonic()

    with pytest.raises(DownloadDeadlineError, match=re.escape("did not finish within 0.3 s")):
        await fetch(
            session,
            f"{cdn.base_url}/clip.mp4",
            tmp_path / "x",
            api_origin=SIM_ORIGIN,
            total_seconds=0.3,
            read_timeout=5.0,
        )

    assert time.monotonic() - started < 2.0


async def test_a_fast_download_passes_the_default_limits(
    cdn: Host, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    data = bytes(range(256)) * 800
    cdn.routes["/clip.mp4"] = cdn.body(data)
    dest = tmp_path / "clip.bin"
    size = await download_to(
        session,
        f"{cdn.base_url}/clip.mp4",
        dest,
        max_bytes=len(data),
        api_origin=SIM_ORIGIN,
        authorization=BEARER,
        allow_loopback=True,
        connect_timeout=2.0,
        read_timeout=3.0,
    )
    assert size == len(data) and dest.read_bytes() == data


# ---------------------------------------------------------------- size bounds


async def test_a_declared_length_over_the_limit_is_refused_before_reading(
    cdn: Host, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    cdn.routes["/clip.mp4"] = cdn.declare_then_stall(10_000)
    dest = tmp_path / "clip.bin"
    dest.write_bytes(b"a partial file of an earlier attempt")

    with pytest.raises(OutputTooLargeError) as caught:
        await fetch(
            session,
            f"{cdn.base_url}/clip.mp4",
            dest,
            api_origin=SIM_ORIGIN,
            max_bytes=5_000,
        )

    assert (caught.value.size, caught.value.limit) == (10_000, 5_000)
    assert not dest.exists()


async def test_a_stream_past_the_limit_is_cut_and_the_partial_file_removed(
    cdn: Host, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    cdn.routes["/clip.mp4"] = cdn.chunked(10, 1000)
    dest = tmp_path / "clip.bin"

    with pytest.raises(OutputTooLargeError) as caught:
        await fetch(
            session,
            f"{cdn.base_url}/clip.mp4",
            dest,
            api_origin=SIM_ORIGIN,
            max_bytes=4_500,
        )

    assert (caught.value.size, caught.value.limit) == (None, 4_500)
    assert not dest.exists()
    assert (
        await fetch(
            session,
            f"{cdn.base_url}/clip.mp4",
            dest,
            api_origin=SIM_ORIGIN,
            max_bytes=10_000,
        )
        == 10_000
    )


# ---------------------------------------------------------------- statuses


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
async def test_expired_statuses(
    status: int, cdn: Host, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    cdn.routes["/clip.mp4"] = cdn.body(b"", status=status, text="<Error>AccessDenied</Error>")
    dest = tmp_path / "clip.bin"
    with pytest.raises(OutputExpiredError) as caught:
        await fetch(
            session,
            f"{cdn.base_url}/clip.mp4?sig={SECRET}",
            dest,
            api_origin=SIM_ORIGIN,
        )
    assert caught.value.status == status
    assert caught.value.message == (
        f"the output link is no longer valid ({status} from {cdn.base_url}/clip.mp4)"
    )
    assert not dest.exists()


async def test_other_statuses_use_the_callers_mapping(
    cdn: Host, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    cdn.routes["/clip.mp4"] = cdn.body(b"", status=503, text=f"busy {KEY}")
    url = f"{cdn.base_url}/clip.mp4?sig={SECRET}"

    with pytest.raises(ServerError) as default:
        await fetch(session, url, tmp_path / "x", api_origin=SIM_ORIGIN)
    assert default.value.status == 503
    assert default.value.message == f"download from {cdn.base_url}/clip.mp4: HTTP 503"

    labels: list[str] = []

    class Mapped(RunwayError):
        pass

    async def error_for(response: aiohttp.ClientResponse, label: str) -> RunwayError:
        labels.append(label)
        return Mapped(f"{label}: mapped {response.status}", status=response.status)

    with pytest.raises(Mapped):
        await fetch(session, url, tmp_path / "x", api_origin=SIM_ORIGIN, error_for=error_for)
    assert labels == [f"download from {cdn.base_url}/clip.mp4"]


# ---------------------------------------------------------------- secrecy


async def test_messages_never_contain_the_query_string_or_the_key(
    api: Host, cdn: Host, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    query = f"?sig={SECRET}&key={KEY}"
    api.routes["/expired"] = api.body(b"", status=403, text=f"denied {KEY}")
    api.routes["/failing"] = api.body(b"", status=500, text=f"oops {KEY} {SECRET}")
    api.routes["/to-private"] = api.redirect(f"https://10.0.0.5/x{query}")
    api.routes["/to-http"] = api.redirect(f"http://cdn.example.com/x{query}")
    api.routes["/to-name"] = api.redirect(f"https://cdn.example.com/x{query}")
    api.routes["/loop"] = api.redirect(f"/loop{query}")
    cdn.routes["/slow"] = cdn.trickle(b"x", 0.002)
    dns = FakeDNS({"cdn.example.com": ["192.168.0.9"]})
    errors: list[BaseException] = []

    async def attempt(path_or_url: str, **overrides: Any) -> None:
        url = path_or_url if "://" in path_or_url else f"{api.base_url}{path_or_url}{query}"
        try:
            await fetch(
                session, url, tmp_path / "x", api_origin=api.base_url, resolve=dns, **overrides
            )
        except RunwayError as error:
            errors.append(error)

    await attempt("/expired")
    await attempt("/failing")
    await attempt("/to-private")
    await attempt("/to-http")
    await attempt("/to-name")
    await attempt("/loop", max_redirects=2)
    await attempt(f"https://u:{KEY}@cdn.example.com/x{query}")
    await attempt(
        f"{cdn.base_url}/slow{query}", clock=StepClock(1.0), grace_seconds=1.0, window_seconds=1.0
    )
    await attempt(
        f"{cdn.base_url}/slow{query}",
        clock=StepClock(1.0),
        total_seconds=3.0,
        min_bytes_per_second=0,
    )

    assert {type(error) for error in errors} == {
        OutputExpiredError,
        ServerError,
        UnsafeURLError,
        DownloadTooSlowError,
        DownloadDeadlineError,
    }
    assert len(errors) == 9
    for error in errors:
        for text in texts_of(error):
            assert SECRET not in text and KEY not in text, text
