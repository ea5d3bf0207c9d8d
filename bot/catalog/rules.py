"""The catalog's rules: what a model accepts and what a job costs (pure, no I/O).

Each function checks or derives from one catalog entry (a ``ModelSpec`` as the configured
provider serves it, i.e. from ``Settings.models``). Refusals raise ``JobError`` with a
message safe to show to the user.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from math import ceil

from ..domain import InputRole, JobError, JobInput, JobKind, JobParams
from ..i18n import Text, text
from .spec import COMMANDS, Endpoint, ModelSpec

ENDPOINTS: dict[JobKind, Endpoint] = {
    JobKind.ANIMATE: Endpoint.IMAGE_TO_VIDEO,
    JobKind.RESTYLE: Endpoint.VIDEO_TO_VIDEO,
}
"""The endpoint whose models each kind of job uses."""

_ECHO_SAFE = re.compile(r"[A-Za-z0-9._:-]{1,40}")


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, as Runway counts prompt length."""
    return len(text.encode("utf-16-le")) // 2


def durations_text(durations: Sequence[int]) -> str:
    """Allowed durations for a message: ``2-10 s``, ``only 5 s``, ``4, 6 or 8 s``."""
    ds = sorted(durations)
    if len(ds) > 2 and ds == list(range(ds[0], ds[-1] + 1)):
        return f"{ds[0]}-{ds[-1]} s"
    if len(ds) == 1:
        return f"only {ds[0]} s"
    return ", ".join(map(str, ds[:-1])) + f" or {ds[-1]} s"


def durations_phrase(durations: Sequence[int]) -> Text:
    """:func:`durations_text` to translate in the reader's language."""
    ds = sorted(durations)
    if len(ds) > 2 and ds == list(range(ds[0], ds[-1] + 1)):
        return text("rules.durations.range", low=ds[0], high=ds[-1])
    if len(ds) == 1:
        return text("rules.durations.only", seconds=ds[0])
    return text("rules.durations.list", first=", ".join(map(str, ds[:-1])), last=ds[-1])


def _aspect(ratio: str) -> float | None:
    parts = ratio.split(":")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        return None
    return int(parts[0]) / int(parts[1])


def _echo(value: str) -> str:
    """A model id or ratio the user typed, quoted back only when it looks like one."""
    return f"'{value}'" if _ECHO_SAFE.fullmatch(value) else "(that value)"


def pick_model(models: Iterable[ModelSpec], endpoint: Endpoint, model_id: str) -> ModelSpec:
    """The enabled model ``model_id`` of ``models`` (a resolved catalog), if it serves
    ``endpoint``; else JobError naming the enabled models of that endpoint, or the command
    that uses the model."""
    catalog = tuple(models)
    spec = next((m for m in catalog if m.id == model_id), None)
    if spec is None or not spec.enabled:
        names = ", ".join(m.id for m in catalog if m.enabled and m.endpoint is endpoint)
        raise JobError.of("rules.no_model", model=_echo(model_id), names=names)
    if spec.endpoint is not endpoint:
        raise JobError.of("rules.wrong_command", model=spec.id, command=COMMANDS[spec.endpoint])
    return spec


def validate_params(
    spec: ModelSpec,
    params: JobParams,
    prompt: str,
    *,
    has_reference: bool = False,
    has_last_frame: bool = False,
) -> JobParams:
    """Check parameters against the model's entry; return them with defaults filled.

    ``params.model`` is not looked up (``spec`` is the model: see ``pick_model``). A ratio
    of None or "auto" stays None (chosen from the input later, see ``closest_ratio``).
    """
    text = prompt.strip()
    if spec.prompt_required and not text:
        raise JobError.of("rules.needs_prompt", model=spec.id)
    length = utf16_length(text)
    if length > spec.prompt_max_utf16:
        raise JobError.of(
            "rules.prompt_too_long", length=length, model=spec.id, max=spec.prompt_max_utf16
        )
    duration = params.duration
    if spec.endpoint is Endpoint.IMAGE_TO_VIDEO:
        if duration is None:
            duration = spec.default_duration
        elif duration not in spec.durations:
            raise JobError.of(
                "rules.bad_duration",
                model=spec.id,
                durations=durations_phrase(spec.durations),
                duration=duration,
            )
    elif duration is not None:
        raise JobError.of("rules.duration_from_video", model=spec.id)
    ratio = params.ratio.strip() if params.ratio else None
    if ratio and ratio.lower() == "auto":
        ratio = None
    if ratio is not None:
        if not spec.ratios:
            raise JobError.of("rules.ratio_from_video", model=spec.id)
        if ratio not in spec.ratios:
            wanted = _aspect(ratio)
            match = [
                r for r, a in spec.ratio_aspects().items()
                if wanted is not None and abs(a / wanted - 1) < 0.01
            ]  # fmt: skip
            if not match:
                raise JobError.of(
                    "rules.bad_ratio",
                    ratio=_echo(ratio),
                    model=spec.id,
                    ratios=", ".join(spec.ratios),
                )
            ratio = match[0]
    if params.seed is not None and not 0 <= params.seed <= spec.seed_max:
        raise JobError.of("rules.bad_seed", max=spec.seed_max)
    if params.audio and not spec.supports_audio:
        raise JobError.of("rules.no_audio", model=spec.id)
    if has_last_frame and not spec.supports_last_frame:
        raise JobError.of("rules.no_last_frame", model=spec.id)
    if has_reference and not spec.supports_reference:
        raise JobError.of("rules.no_reference", model=spec.id)
    return JobParams(
        model=spec.id, ratio=ratio, duration=duration, seed=params.seed, audio=params.audio
    )


def check_inputs(spec: ModelSpec, inputs: Sequence[JobInput]) -> None:
    """Check the attached files against the model: one image (and at most one last frame)
    for an image_to_video model; one video, its length and the reference count for a
    video_to_video one."""
    roles = [i.role for i in inputs]
    if spec.endpoint is Endpoint.IMAGE_TO_VIDEO:
        if roles.count(InputRole.IMAGE) != 1:
            raise JobError.of("rules.one_image")
        if any(r in (InputRole.VIDEO, InputRole.REFERENCE) for r in roles):
            raise JobError.of("rules.animate_inputs")
        if roles.count(InputRole.LAST_FRAME) > 1:
            raise JobError.of("rules.one_last_frame")
        return
    if roles.count(InputRole.VIDEO) != 1:
        raise JobError.of("rules.one_video")
    if InputRole.IMAGE in roles or InputRole.LAST_FRAME in roles:
        raise JobError.of("rules.restyle_inputs")
    refs = roles.count(InputRole.REFERENCE)
    if refs > spec.max_references:
        raise JobError.of("rules.too_many_references", model=spec.id, max=spec.max_references)
    video = next(i for i in inputs if i.role is InputRole.VIDEO)
    if (
        spec.max_input_seconds is not None
        and video.duration_seconds is not None
        and video.duration_seconds > spec.max_input_seconds + 1e-6
    ):
        raise JobError.of(
            "rules.video_too_long",
            model=spec.id,
            max=f"{spec.max_input_seconds:g}",
            seconds=f"{video.duration_seconds:.1f}",
        )


def closest_ratio(spec: ModelSpec, width: int | None, height: int | None) -> str:
    """The model's ratio whose aspect is closest (in log scale) to width/height; the first
    ratio when the size is unknown."""
    if not spec.ratios:
        raise JobError.of("rules.no_ratios", model=spec.id)
    if not width or not height:
        return spec.ratios[0]
    target = width / height
    aspects = spec.ratio_aspects()
    return min(
        spec.ratios, key=lambda r: abs(aspects[r] / target - 1) + abs(target / aspects[r] - 1)
    )


def estimate_credits(
    spec: ModelSpec, params: JobParams, input_seconds: float | None = None
) -> float:
    """Catalog estimate: billed seconds x credits per second (audio rate when asked for).

    image_to_video bills the duration (the default when none); video_to_video the input's
    whole seconds up to ``billed_input_seconds`` (or ``max_input_seconds``), and that cap
    (or 10 s) when the input's length is unknown.
    """
    rate = spec.credits_per_second
    if params.audio and spec.audio_credits_per_second is not None:
        rate = spec.audio_credits_per_second
    if spec.endpoint is Endpoint.IMAGE_TO_VIDEO:
        seconds = float(params.duration or spec.default_duration or 0)
    else:
        cap = spec.billed_input_seconds or spec.max_input_seconds
        if input_seconds is None:
            seconds = cap or 10.0
        else:
            seconds = float(ceil(input_seconds - 1e-6))
            if cap is not None:
                seconds = min(seconds, cap)
    return round(seconds * rate, 4)
