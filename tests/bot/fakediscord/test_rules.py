"""Discord's rules as pure functions: clock, permissions, upload limits, rate limits, nonces."""

from __future__ import annotations

import time

import pytest

from bot.fakediscord import rules


def test_clock_scale_and_advance() -> None:
    clock = rules.Clock(scale=0.0)
    start = clock.now()
    clock.advance(900)
    assert clock.now() == pytest.approx(start + 900)
    clock.set_scale(10_000.0)
    before = clock.now()
    time.sleep(0.01)
    assert clock.now() - before >= 100  # 10 ms real are 100+ simulated seconds
    with pytest.raises(ValueError):
        clock.advance(-1)


def _perms(role_ids: list[int], overwrites: list[dict[str, object]], **roles: int) -> int:
    role_permissions = {1: roles.get("everyone", rules.DEFAULT_EVERYONE_PERMISSIONS)}
    role_permissions[2] = roles.get("mod", 0)
    return rules.compute_permissions(
        guild_id=1,
        owner_id=99,
        user_id=7,
        role_ids=role_ids,
        role_permissions=role_permissions,
        overwrites=overwrites,
    )


def test_permissions_follow_discords_order() -> None:
    base = _perms([], [])
    assert base & rules.SEND_MESSAGES
    deny_everyone = [{"id": "1", "type": 0, "allow": "0", "deny": str(rules.SEND_MESSAGES)}]
    assert not _perms([], deny_everyone) & rules.SEND_MESSAGES
    role_allows = [
        *deny_everyone,
        {"id": "2", "type": 0, "allow": str(rules.SEND_MESSAGES), "deny": "0"},
    ]
    assert _perms([2], role_allows) & rules.SEND_MESSAGES
    member_denies = [
        *role_allows,
        {"id": "7", "type": 1, "allow": "0", "deny": str(rules.SEND_MESSAGES)},
    ]
    assert not _perms([2], member_denies) & rules.SEND_MESSAGES
    hidden = [{"id": "7", "type": 1, "allow": "0", "deny": str(rules.VIEW_CHANNEL)}]
    assert _perms([], hidden) == 0
    assert _perms([2], hidden, mod=rules.ADMINISTRATOR) == rules.ALL_PERMISSIONS


def test_upload_limits_by_tier() -> None:
    assert rules.upload_limit(0) == rules.upload_limit(1) == 10 * 1024 * 1024
    assert rules.upload_limit(2) == 50 * 1024 * 1024
    assert rules.upload_limit(3) == 100 * 1024 * 1024
    assert rules.upload_limit(3, override=5) == 5


def test_forced_rate_limits_are_consumed_in_order() -> None:
    limiter = rules.RateLimiter()
    limiter.force("POST", "/channels/{channel_id}/messages", 2, 0.5)
    route = "/channels/{channel_id}/messages"
    assert limiter.check("GET", route, "/channels/1/messages") is None
    first = limiter.check("POST", route, "/channels/1/messages")
    assert first is not None and first.retry_after == 0.5
    assert limiter.check("POST", route, "/channels/2/messages") is not None
    assert limiter.check("POST", route, "/channels/3/messages") is None
    headers = limiter.limited_headers("POST", route, first)
    assert headers["Retry-After"] == "1" and headers["X-RateLimit-Remaining"] == "0"
    assert headers["Via"]  # discord.py treats a 429 without Via as a Cloudflare ban
    normal = limiter.headers("POST", route)
    assert normal["X-RateLimit-Bucket"] == limited_bucket(limiter, route)
    assert int(normal["X-RateLimit-Remaining"]) > 0


def limited_bucket(limiter: rules.RateLimiter, route: str) -> str:
    return limiter.bucket("POST", route)


def test_random_rate_limits_are_seeded() -> None:
    a = rules.RateLimiter(random_rate=0.5, seed=3)
    b = rules.RateLimiter(random_rate=0.5, seed=3)
    hits_a = [a.check("GET", "/x", "/x") is not None for _ in range(50)]
    hits_b = [b.check("GET", "/x", "/x") is not None for _ in range(50)]
    assert hits_a == hits_b and 5 < sum(hits_a) < 45


def test_nonce_cache_window() -> None:
    cache = rules.NonceCache(window=60)
    cache.remember(1, 2, "n", 100, now=0)
    assert cache.lookup(1, 2, "n", now=30) == 100
    assert cache.lookup(1, 3, "n", now=30) is None  # another author
    assert cache.lookup(1, 2, "n", now=61) is None


def test_realistic_buckets_count_per_major_parameter() -> None:
    limiter = rules.RateLimiter(realistic=True, bucket_limit=2, bucket_seconds=60)
    route = "/channels/{channel_id}/messages"
    assert limiter.take("POST", route, "channel_id=1") is None
    assert limiter.headers("POST", route, "channel_id=1")["X-RateLimit-Remaining"] == "1"
    assert limiter.take("POST", route, "channel_id=1") is None
    over = limiter.take("POST", route, "channel_id=1")
    assert over is not None and 0 < over.retry_after <= 60
    assert limiter.take("POST", route, "channel_id=2") is None  # another channel
    assert rules.RateLimiter().take("POST", route, "channel_id=1") is None  # off by default
