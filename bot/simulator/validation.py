"""Validation of create bodies against the model catalog, the way Runway answers 400.

Pure checks, no I/O: the result lists the assets to fetch (data URIs, loopback or HTTPS
URLs, ``runway://`` uploads); the simulator resolves them afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from ..catalog import Endpoint, ModelSpec

IMAGE_DATA_URI_MAX = 5 * 1024 * 1024
"""Largest accepted image data URI, counted in characters of the whole encoded URI."""
VIDEO_DATA_URI_MAX = 16 * 1024 * 1024
"""Largest accepted video data URI, counted like the image limit."""
URL_MAX_CHARS = 2048
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/jpg", "image/webp"})
VIDEO_TYPES = frozenset({"video/mp4", "video/webm", "video/quicktime"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
RUNWAY_VERSION = "2024-11-06"

AssetKind = Literal["image", "video"]
_DATA_URI = re.compile(r"^data:([^;,]*)((?:;[^;,]*)*),", re.IGNORECASE)
_RATIO = re.compile(r"^\d+:\d+$")


@dataclass(frozen=True)
class Issue:
    """One problem in a request body, as Runway lists it."""

    path: tuple[str | int, ...]
    message: str

    def to_wire(self) -> dict[str, Any]:
        """The JSON form: ``{"path": [...], "message": ...}``."""
        return {"path": list(self.path), "message": self.message}


@dataclass(frozen=True)
class AssetRef:
    """An asset named by a request, still to be fetched or decoded."""

    path: tuple[str | int, ...]
    kind: AssetKind
    uri: str
    role: Literal["first", "last", "video", "reference"]


@dataclass(frozen=True)
class ValidRequest:
    """A create body that passed validation."""

    endpoint: Endpoint
    spec: ModelSpec
    prompt_text: str | None
    ratio: str | None
    duration: int | None
    seed: int | None
    audio: bool
    assets: tuple[AssetRef, ...] = field(default_factory=tuple)


class RequestInvalid(Exception):
    """The body failed validation; ``issues`` says why (answered as HTTP 400)."""

    def __init__(self, issues: list[Issue], error: str = "Validation of body failed") -> None:
        super().__init__(error)
        self.error = error
        self.issues = issues

    def to_wire(self) -> dict[str, Any]:
        """The 400 body: ``{"error": ..., "issues": [...]}``."""
        return {"error": self.error, "issues": [i.to_wire() for i in self.issues]}


def utf16_units(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, as Runway counts prompt length."""
    return len(text.encode("utf-16-le")) // 2


def validate_create(
    endpoint: Endpoint, body: Any, catalog: Mapping[str, ModelSpec]
) -> ValidRequest:
    """Check a create body for ``endpoint``; raise RequestInvalid listing every problem."""
    if not isinstance(body, dict):
        raise RequestInvalid([Issue((), "Expected object, received " + _type_name(body))])
    issues: list[Issue] = []
    model = body.get("model")
    valid_ids = [m.id for m in catalog.values() if m.endpoint is endpoint]
    spec = catalog.get(model) if isinstance(model, str) else None
    if spec is None or spec.endpoint is not endpoint:
        expected = " | ".join(f"'{m}'" for m in valid_ids)
        if model is None:
            msg = f"Required. Expected {expected}"
        elif spec is not None:
            msg = f"Model '{model}' is not available on {endpoint.value}. Expected {expected}"
        else:
            msg = f"Invalid discriminator value. Expected {expected}, received {model!r}"
        raise RequestInvalid([Issue(("model",), msg)])

    prompt = _check_prompt(body, spec, issues)
    seed = _check_seed(body, spec, issues)
    _check_moderation(body, issues)
    assets: list[AssetRef] = []
    ratio: str | None = None
    duration: int | None = None
    audio = False
    if endpoint is Endpoint.IMAGE_TO_VIDEO:
        assets.extend(_check_prompt_image(body, spec, issues))
        ratio = _check_ratio(body, spec, issues)
        duration = _check_duration(body, spec, issues)
        audio = _check_audio(body, spec, issues)
    else:
        video = body.get("videoUri")
        if video is None:
            issues.append(Issue(("videoUri",), "Required"))
        elif _check_uri(video, ("videoUri",), "video", issues):
            assets.append(AssetRef(("videoUri",), "video", video, "video"))
        assets.extend(_check_references(body, spec, issues))
        raw_ratio = body.get("ratio")
        if raw_ratio is not None and not (isinstance(raw_ratio, str) and _RATIO.match(raw_ratio)):
            issues.append(Issue(("ratio",), "Expected a ratio like '1280:720'"))
    if issues:
        raise RequestInvalid(issues)
    return ValidRequest(endpoint, spec, prompt, ratio, duration, seed, audio, tuple(assets))


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array"}.get(
        type(value), "object"
    )


def _check_prompt(body: dict[str, Any], spec: ModelSpec, issues: list[Issue]) -> str | None:
    prompt = body.get("promptText")
    if prompt is None:
        if spec.prompt_required:
            issues.append(Issue(("promptText",), f"Required for model '{spec.id}'"))
        return None
    if not isinstance(prompt, str):
        issues.append(Issue(("promptText",), f"Expected string, received {_type_name(prompt)}"))
        return None
    if not prompt.strip():
        issues.append(Issue(("promptText",), "String must contain at least 1 character(s)"))
    units = utf16_units(prompt)
    if units > spec.prompt_max_utf16:
        issues.append(
            Issue(
                ("promptText",),
                f"String must contain at most {spec.prompt_max_utf16} character(s) "
                f"(UTF-16 code units); got {units}",
            )
        )
    return prompt


def _check_seed(body: dict[str, Any], spec: ModelSpec, issues: list[Issue]) -> int | None:
    seed = body.get("seed")
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int):
        issues.append(Issue(("seed",), f"Expected integer, received {_type_name(seed)}"))
        return None
    if seed < 0:
        issues.append(Issue(("seed",), "Number must be greater than or equal to 0"))
    elif seed > spec.seed_max:
        issues.append(Issue(("seed",), f"Number must be less than or equal to {spec.seed_max}"))
    return seed


def _check_moderation(body: dict[str, Any], issues: list[Issue]) -> None:
    mod = body.get("contentModeration")
    if mod is None:
        return
    if not isinstance(mod, dict):
        issues.append(Issue(("contentModeration",), "Expected object"))
        return
    threshold = mod.get("publicFigureThreshold")
    if threshold is not None and threshold not in ("auto", "low"):
        issues.append(
            Issue(
                ("contentModeration", "publicFigureThreshold"),
                f"Invalid enum value. Expected 'auto' | 'low', received {threshold!r}",
            )
        )


def _check_ratio(body: dict[str, Any], spec: ModelSpec, issues: list[Issue]) -> str | None:
    ratio = body.get("ratio")
    expected = " | ".join(f"'{r}'" for r in spec.ratios)
    if ratio is None:
        issues.append(Issue(("ratio",), f"Required. Expected {expected}"))
        return None
    if ratio not in spec.ratios:
        issues.append(
            Issue(("ratio",), f"Invalid enum value. Expected {expected}, received {ratio!r}")
        )
        return None
    return str(ratio)


def _check_duration(body: dict[str, Any], spec: ModelSpec, issues: list[Issue]) -> int | None:
    duration = body.get("duration")
    if duration is None:
        return spec.default_duration
    allowed = ", ".join(str(d) for d in spec.durations)
    if isinstance(duration, bool) or not isinstance(duration, int):
        issues.append(Issue(("duration",), f"Expected integer, received {_type_name(duration)}"))
        return None
    if duration not in spec.durations:
        issues.append(
            Issue(
                ("duration",),
                f"Invalid duration {duration} for model '{spec.id}'. Expected one of: {allowed}",
            )
        )
        return None
    return duration


def _check_audio(body: dict[str, Any], spec: ModelSpec, issues: list[Issue]) -> bool:
    audio = body.get("audio")
    if audio is None:
        return False
    if not isinstance(audio, bool):
        issues.append(Issue(("audio",), f"Expected boolean, received {_type_name(audio)}"))
        return False
    if audio and not spec.supports_audio:
        issues.append(Issue(("audio",), f"Model '{spec.id}' does not support audio"))
        return False
    return audio


def _check_prompt_image(
    body: dict[str, Any], spec: ModelSpec, issues: list[Issue]
) -> list[AssetRef]:
    image = body.get("promptImage")
    if image is None:
        issues.append(Issue(("promptImage",), "Required"))
        return []
    if isinstance(image, str):
        if _check_uri(image, ("promptImage",), "image", issues):
            return [AssetRef(("promptImage",), "image", image, "first")]
        return []
    if not isinstance(image, list) or not image:
        issues.append(
            Issue(("promptImage",), "Expected a URI string or a non-empty array of frames")
        )
        return []
    out: list[AssetRef] = []
    positions: list[str] = []
    for i, frame in enumerate(image):
        path: tuple[str | int, ...] = ("promptImage", i)
        if not isinstance(frame, dict):
            issues.append(Issue(path, "Expected object with 'uri' and 'position'"))
            continue
        position = frame.get("position")
        if position not in ("first", "last"):
            issues.append(
                Issue(
                    (*path, "position"),
                    f"Invalid enum value. Expected 'first' | 'last', received {position!r}",
                )
            )
            continue
        if position == "last" and not spec.supports_last_frame:
            issues.append(
                Issue((*path, "position"), f"Model '{spec.id}' does not support a last frame")
            )
            continue
        positions.append(position)
        uri = frame.get("uri")
        if uri is None:
            issues.append(Issue((*path, "uri"), "Required"))
        elif _check_uri(uri, (*path, "uri"), "image", issues):
            out.append(AssetRef((*path, "uri"), "image", uri, position))
    if positions.count("first") > 1 or positions.count("last") > 1:
        issues.append(Issue(("promptImage",), "Each position may appear at most once"))
    if positions and "first" not in positions:
        issues.append(Issue(("promptImage",), "A last frame needs a first frame"))
    return out


def _check_references(body: dict[str, Any], spec: ModelSpec, issues: list[Issue]) -> list[AssetRef]:
    refs = body.get("references")
    if refs is None:
        return []
    if not isinstance(refs, list):
        issues.append(Issue(("references",), f"Expected array, received {_type_name(refs)}"))
        return []
    if refs and not spec.supports_reference:
        issues.append(Issue(("references",), f"Model '{spec.id}' does not accept references"))
        return []
    if len(refs) > spec.max_references:
        issues.append(
            Issue(
                ("references",),
                f"Array must contain at most {spec.max_references} element(s)",
            )
        )
        return []
    out: list[AssetRef] = []
    for i, ref in enumerate(refs):
        path: tuple[str | int, ...] = ("references", i)
        if not isinstance(ref, dict):
            issues.append(Issue(path, "Expected object with 'type' and 'uri'"))
            continue
        if ref.get("type") != "image":
            issues.append(
                Issue(
                    (*path, "type"),
                    f"Invalid literal value, expected 'image', received {ref.get('type')!r}",
                )
            )
            continue
        uri = ref.get("uri")
        if uri is None:
            issues.append(Issue((*path, "uri"), "Required"))
        elif _check_uri(uri, (*path, "uri"), "image", issues):
            out.append(AssetRef((*path, "uri"), "image", uri, "reference"))
    return out


def _check_uri(uri: Any, path: tuple[str | int, ...], kind: AssetKind, issues: list[Issue]) -> bool:
    if not isinstance(uri, str):
        issues.append(Issue(path, f"Expected string, received {_type_name(uri)}"))
        return False
    if uri.startswith("data:"):
        return _check_data_uri(uri, path, kind, issues)
    if uri.startswith("runway://"):
        return True
    if len(uri) > URL_MAX_CHARS:
        issues.append(Issue(path, f"URL must be at most {URL_MAX_CHARS} characters"))
        return False
    parts = urlsplit(uri)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host:
        if re.fullmatch(r"[\d.]+", host) and host not in LOOPBACK_HOSTS:
            issues.append(Issue(path, "URL must use a domain name, not an IP address"))
            return False
        return True
    if parts.scheme == "http" and host in LOOPBACK_HOSTS:
        return True
    issues.append(
        Issue(path, "Invalid asset URI: expected an HTTPS URL, a runway:// URI or a data URI")
    )
    return False


def _check_data_uri(
    uri: str, path: tuple[str | int, ...], kind: AssetKind, issues: list[Issue]
) -> bool:
    match = _DATA_URI.match(uri)
    if not match or ";base64" not in match.group(2).lower():
        issues.append(Issue(path, "Invalid data URI: expected data:<type>;base64,<data>"))
        return False
    mime = match.group(1).lower()
    allowed = IMAGE_TYPES if kind == "image" else VIDEO_TYPES
    if mime not in allowed:
        names = ", ".join(sorted(allowed))
        issues.append(Issue(path, f"Unsupported {kind} type '{mime}' in data URI. Use {names}"))
        return False
    limit = IMAGE_DATA_URI_MAX if kind == "image" else VIDEO_DATA_URI_MAX
    if len(uri) > limit:
        issues.append(
            Issue(path, f"Data URI is {len(uri)} bytes; {kind} data URIs are limited to {limit}")
        )
        return False
    return True
