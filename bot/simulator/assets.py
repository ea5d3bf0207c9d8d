"""Asset handling for the simulator: data URIs, URLs and ``runway://`` uploads.

Loopback URLs (127.0.0.1, localhost) are fetched like Runway fetches assets: no redirects,
size limits, a non-200 answer is a 400. The simulator never leaves the machine, so an
HTTPS URL on any other host is accepted but not fetched: a generated test card (a still
image, or a 5 s clip of it for videos) stands in for its content.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import io
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from PIL import Image, UnidentifiedImageError

from .clipmaker import image_to_video_clip, test_card
from .validation import LOOPBACK_HOSTS, AssetRef, Issue, RequestInvalid

URL_IMAGE_MAX = 16 * 1024 * 1024
URL_VIDEO_MAX = 32 * 1024 * 1024
UPLOAD_MAX = 200 * 1024 * 1024
UPLOAD_TTL = 24 * 3600.0


@dataclass
class UploadStore:
    """Ephemeral uploads: tickets issued by ``POST /v1/uploads`` and the files posted to them.

    Tickets and files are forgotten ``ttl_seconds`` after the ticket was issued (time as
    told by ``now``, the simulator's clock), as Runway's ephemeral uploads expire.
    """

    secret: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    pending: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    ttl_seconds: float = UPLOAD_TTL
    now: Callable[[], float] = time.monotonic
    expires: dict[str, float] = field(default_factory=dict)  # runway:// URI -> expiry

    def ticket(self, filename: str) -> tuple[str, dict[str, str], str]:
        """A new upload id, the form fields to post with the file, and its runway:// URI."""
        self.sweep()
        upload_id = secrets.token_hex(12)
        uri = f"runway://uploads/{upload_id}/{filename}"
        self.pending[upload_id] = uri
        self.expires[uri] = self.now() + self.ttl_seconds
        fields = {"key": upload_id, "signature": self._sign(upload_id)}
        return upload_id, fields, uri

    def lookup(self, uri: str) -> bytes | None:
        """The bytes of an uploaded file, None if unknown or expired."""
        self.sweep()
        return self.files.get(uri)

    def sweep(self) -> None:
        """Forget expired tickets and files."""
        now = self.now()
        expired: list[str] = []
        for uri, exp in self.expires.items():  # issued in order, so expiring in order
            if exp > now:
                break
            expired.append(uri)
        for uri in expired:
            del self.expires[uri]
            self.files.pop(uri, None)
            self.pending.pop(uri.split("/")[3], None)  # runway://uploads/<id>/<name>

    def accept(self, upload_id: str, fields: dict[str, str], data: bytes) -> str | None:
        """Store a posted file; returns an error text when the post is refused."""
        self.sweep()
        uri = self.pending.get(upload_id)
        if uri is None:
            return "unknown upload"
        if fields.get("key") != upload_id or not hmac.compare_digest(
            fields.get("signature", ""), self._sign(upload_id)
        ):
            return "bad upload signature"
        if len(data) > UPLOAD_MAX:
            return "file too large"
        if not data:
            return "empty file"
        del self.pending[upload_id]
        self.files[uri] = data
        return None

    def _sign(self, upload_id: str) -> str:
        return hmac.new(self.secret, upload_id.encode(), hashlib.sha256).hexdigest()


async def resolve_asset(
    ref: AssetRef, uploads: UploadStore, session: aiohttp.ClientSession
) -> bytes:
    """The bytes an asset reference stands for (RequestInvalid with a 400 issue if unusable)."""
    if ref.uri.startswith("data:"):
        data = _decode_data_uri(ref)
    elif ref.uri.startswith("runway://"):
        found = uploads.lookup(ref.uri)
        if found is None:
            raise _invalid(ref, "Unknown or expired runway:// upload URI")
        data = found
    else:
        host = (urlsplit(ref.uri).hostname or "").lower()
        if host in LOOPBACK_HOSTS:
            data = await _fetch(ref, session)
        else:
            data = await asyncio.to_thread(_stand_in, ref.kind, host)
    if ref.kind == "image":
        _check_image(ref, data)
    return data


def _invalid(ref: AssetRef, message: str) -> RequestInvalid:
    return RequestInvalid([Issue(ref.path, message)], error="Invalid asset")


def _decode_data_uri(ref: AssetRef) -> bytes:
    payload = ref.uri.split(",", 1)[1]
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(ref, "Invalid base64 data in data URI") from None
    if not data:
        raise _invalid(ref, "Empty data URI")
    return data


def _stand_in(kind: str, host: str) -> bytes:
    card = test_card(host)
    if kind == "image":
        return card
    return image_to_video_clip(card, ratio="1280:720", duration=5.0)


async def _fetch(ref: AssetRef, session: aiohttp.ClientSession) -> bytes:
    limit = URL_IMAGE_MAX if ref.kind == "image" else URL_VIDEO_MAX
    try:
        async with session.get(ref.uri, allow_redirects=False) as resp:
            if resp.status != 200:
                raise _invalid(ref, f"Failed to fetch asset: the server answered {resp.status}")
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.content.iter_chunked(1 << 16):
                size += len(chunk)
                if size > limit:
                    raise _invalid(ref, f"Asset is larger than {limit} bytes")
                chunks.append(chunk)
    except (aiohttp.ClientError, TimeoutError):
        raise _invalid(ref, "Failed to fetch asset: connection failed") from None
    if not chunks:
        raise _invalid(ref, "Failed to fetch asset: empty body")
    return b"".join(chunks)


def _check_image(ref: AssetRef, data: bytes) -> None:
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = (img.format or "").upper()
            img.verify()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise _invalid(ref, "Invalid asset: not a readable image") from None
    if fmt not in ("PNG", "JPEG", "WEBP"):
        raise _invalid(ref, f"Unsupported image type {fmt or 'unknown'}: use JPEG, PNG or WebP")


def upload_routes(store: UploadStore) -> list[web.RouteDef]:
    """``POST /v1/uploads`` (a ticket) and ``POST /_uploads/{id}`` (the multipart file)."""

    async def ticket(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return web.json_response({"error": "Invalid JSON body", "issues": []}, status=400)
        issues: list[dict[str, object]] = []
        filename = body.get("filename") if isinstance(body, dict) else None
        if not isinstance(filename, str) or not filename or "/" in filename:
            issues.append({"path": ["filename"], "message": "Expected a file name"})
        if not isinstance(body, dict) or body.get("type") != "ephemeral":
            issues.append(
                {"path": ["type"], "message": "Invalid literal value, expected 'ephemeral'"}
            )
        if issues:
            return web.json_response(
                {"error": "Validation of body failed", "issues": issues}, status=400
            )
        upload_id, form, uri = store.ticket(str(filename))
        url = f"{request.scheme}://{request.host}/_uploads/{upload_id}"
        return web.json_response({"uploadUrl": url, "fields": form, "runwayUri": uri})

    async def upload(request: web.Request) -> web.Response:
        form: dict[str, str] = {}
        data = b""
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, aiohttp.BodyPartReader):
                    continue
                if part.name == "file":
                    data = bytes(await part.read())
                elif part.name:
                    form[part.name] = await part.text()
        except (AssertionError, ValueError, KeyError):
            return web.Response(status=400, text="Malformed multipart body")
        error = store.accept(request.match_info["id"], form, data)
        if error is not None:
            return web.Response(status=403 if "signature" in error else 400, text=error)
        return web.Response(status=204)

    return [web.post("/v1/uploads", ticket), web.post("/_uploads/{id}", upload)]
