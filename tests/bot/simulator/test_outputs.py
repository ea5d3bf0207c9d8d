"""Signed, expiring output URLs."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from bot.simulator.outputs import OutputSigner


def parts(url: str) -> tuple[str, dict[str, str]]:
    split = urlsplit(url)
    return split.path.rsplit("/", 1)[1], dict(parse_qsl(split.query))


def test_urls_are_valid_until_they_expire() -> None:
    signer = OutputSigner()
    url = signer.issue("http://127.0.0.1:1", "abc", expires_at=100.0)
    assert url.startswith("http://127.0.0.1:1/_outputs/abc.mp4?")
    name, query = parts(url)
    assert signer.check(name, query, now=99.0) is None
    assert signer.check(name, query, now=100.5) == "Request has expired"


def test_tampering_is_refused() -> None:
    signer = OutputSigner()
    name, query = parts(signer.issue("http://h", "abc", expires_at=100.0))
    assert signer.check("other.mp4", query, now=0) == "Invalid signature"
    assert signer.check(name, {**query, "exp": "999999"}, now=0) == "Invalid signature"
    assert signer.check(name, {}, now=0) == "Invalid signature"
    assert OutputSigner().check(name, query, now=0) == "Invalid signature"


def test_revoke_all_affects_only_urls_issued_before() -> None:
    signer = OutputSigner()
    old = parts(signer.issue("http://h", "abc", expires_at=100.0))
    signer.revoke_all()
    new = parts(signer.issue("http://h", "abc", expires_at=100.0))
    assert signer.check(*old, now=0) == "Request has expired"
    assert signer.check(*new, now=0) is None
