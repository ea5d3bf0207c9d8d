"""Signed, expiring output URLs for the simulator (``/_outputs/<task>.mp4?exp=..&n=..&sig=..``)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping


class OutputSigner:
    """Issues output URLs valid until a simulated time; can revoke all issued so far."""

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(16)
        self._serial = 0
        self._revoked_upto = 0

    def issue(self, origin: str, task_id: str, expires_at: float) -> str:
        """A fresh URL for a task's clip, valid until simulated time ``expires_at``."""
        self._serial += 1
        name = f"{task_id}.mp4"
        exp = f"{expires_at:.3f}"
        serial = str(self._serial)
        sig = self._sign(name, exp, serial)
        return f"{origin}/_outputs/{name}?exp={exp}&n={serial}&sig={sig}"

    def revoke_all(self) -> None:
        """Every URL issued so far stops working."""
        self._revoked_upto = self._serial

    def check(self, name: str, query: Mapping[str, str], now: float) -> str | None:
        """None when the URL is valid at ``now``, else why it is refused."""
        exp, serial, sig = (query.get(k, "") for k in ("exp", "n", "sig"))
        if not hmac.compare_digest(sig, self._sign(name, exp, serial)):
            return "Invalid signature"
        if int(serial) <= self._revoked_upto or float(exp) < now:
            return "Request has expired"
        return None

    def _sign(self, name: str, exp: str, serial: str) -> str:
        msg = f"{name}|{exp}|{serial}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()[:32]
