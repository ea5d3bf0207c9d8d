"""The model catalog's types: providers, endpoints and one model's entry (``[[models]]``).

Pure data and validation (pydantic); the packaged entries are in ``default.toml``
(loaded by ``bot.catalog.default``) and the rules that check a request against an entry
are in ``bot.catalog.rules``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

SEED_MAX = 4_294_967_295

LABEL_MAX = 60
"""The longest model label (or id, shown when there is no label): Discord caps thread names
and command choice names at 100 characters, and the bot adds the job number or the price."""


def _check_label(value: str | None, what: str = "label") -> str | None:
    if value is not None and len(value) > LABEL_MAX:
        raise ValueError(
            f"{what} is {len(value)} characters: at most {LABEL_MAX} (Discord caps thread "
            "names and command choices at 100 and the bot adds to it)"
        )
    return value


Provider = Literal["runway", "cometapi", "simulator"]
"""Where the bot sends its tasks: Runway direct, the CometAPI gateway or the built-in simulator."""

PROVIDERS: tuple[Provider, ...] = get_args(Provider)
SERVICES: tuple[Provider, ...] = ("runway", "cometapi")
"""The real services a model can be served by; the simulator serves every model."""


class Endpoint(StrEnum):
    """Which Runway endpoint a model is served from."""

    IMAGE_TO_VIDEO = "image_to_video"
    VIDEO_TO_VIDEO = "video_to_video"


COMMANDS: dict[Endpoint, str] = {
    Endpoint.IMAGE_TO_VIDEO: "/animate",
    Endpoint.VIDEO_TO_VIDEO: "/restyle",
}
"""The slash command that uses each endpoint's models."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_ratios(value: tuple[str, ...]) -> tuple[str, ...]:
    for ratio in value:
        parts = ratio.split(":")
        if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise ValueError(f"ratio {ratio!r} must look like '1280:720'")
    return value


def _names(value: Any, allowed: tuple[str, ...], what: str) -> tuple[Provider, ...]:
    """A TOML list of provider names, checked with one readable message."""
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"must be {what}")
    for name in value:
        if name not in allowed:
            raise ValueError(
                f"unknown provider {name!r}: use {', '.join(repr(a) for a in allowed)}"
            )
    out: tuple[Provider, ...] = tuple(dict.fromkeys(value))
    return out


class ModelOverride(_Strict):
    """What one provider documents differently for a model (``[models.overrides.<provider>]``).

    Only the limits and prices can differ; a field left out keeps the model's own value.
    """

    label: str | None = None
    ratios: tuple[str, ...] | None = None
    durations: tuple[int, ...] | None = None
    default_duration: int | None = None
    prompt_max_utf16: int | None = Field(default=None, ge=1)
    prompt_required: bool | None = None
    supports_reference: bool | None = None
    max_references: int | None = Field(default=None, ge=0)
    supports_last_frame: bool | None = None
    supports_audio: bool | None = None
    credits_per_second: float | None = Field(default=None, ge=0)
    audio_credits_per_second: float | None = Field(default=None, ge=0)
    max_input_seconds: float | None = Field(default=None, gt=0)
    billed_input_seconds: float | None = Field(default=None, gt=0)
    seed_max: int | None = Field(default=None, ge=0, le=SEED_MAX)

    @field_validator("ratios")
    @classmethod
    def _ratios_look_like_w_h(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if value is None else _check_ratios(value)

    @field_validator("label")
    @classmethod
    def _label_fits(cls, value: str | None) -> str | None:
        return _check_label(value)


class ModelSpec(_Strict):
    """One entry of the model catalog: what a Runway model accepts and what it costs.

    ``providers`` lists the real services that serve the model (the simulator serves every
    model). ``enabled`` is true (wherever served), false, or the providers it is enabled for.
    ``overrides`` holds what a provider documents differently. ``Settings.models`` holds the
    entries resolved for the configured provider (see ``for_provider``): there ``enabled`` is
    a plain bool and ``overrides`` is empty.
    """

    id: str = Field(min_length=1)
    endpoint: Endpoint
    label: str = ""
    providers: tuple[Provider, ...] = SERVICES
    enabled: bool | tuple[Provider, ...] = True
    ratios: tuple[str, ...] = ()
    durations: tuple[int, ...] = ()
    default_duration: int | None = None
    prompt_max_utf16: int = Field(default=1000, ge=1)
    prompt_required: bool = False
    supports_reference: bool = False
    max_references: int = Field(default=0, ge=0)
    supports_last_frame: bool = False
    supports_audio: bool = False
    credits_per_second: float = Field(ge=0)
    audio_credits_per_second: float | None = Field(default=None, ge=0)
    max_input_seconds: float | None = Field(default=None, gt=0)
    billed_input_seconds: float | None = Field(default=None, gt=0)
    seed_max: int = Field(default=SEED_MAX, ge=0, le=SEED_MAX)
    overrides: dict[Provider, ModelOverride] = Field(default_factory=dict)

    @field_validator("id", "label")
    @classmethod
    def _fits_discord(cls, value: str, info: ValidationInfo) -> str:
        _check_label(value, str(info.field_name))
        return value

    @field_validator("providers", mode="before")
    @classmethod
    def _providers_are_services(cls, value: Any) -> tuple[Provider, ...]:
        if isinstance(value, list | tuple) and "simulator" in value:
            raise ValueError("'simulator' serves every model: list only 'runway' and/or 'cometapi'")
        return _names(value, SERVICES, "a list of 'runway' and/or 'cometapi'")

    @field_validator("enabled", mode="before")
    @classmethod
    def _enabled_shape(cls, value: Any) -> bool | tuple[Provider, ...]:
        if isinstance(value, bool):
            return value
        return _names(value, PROVIDERS, "true, false or a list of provider names")

    @field_validator("enabled")
    @classmethod
    def _enabled_where_served(
        cls, value: bool | tuple[Provider, ...], info: ValidationInfo
    ) -> bool | tuple[Provider, ...]:
        served = info.data.get("providers")
        if isinstance(value, tuple) and served is not None:
            for name in value:
                if name != "simulator" and name not in served:
                    hint = "add it to providers or remove it from enabled"
                    raise ValueError(f"{_not_served(name, served)}: {hint}")
        return value

    @field_validator("overrides")
    @classmethod
    def _overrides_where_served(
        cls, value: dict[Provider, ModelOverride], info: ValidationInfo
    ) -> dict[Provider, ModelOverride]:
        served = info.data.get("providers")
        if served is not None:
            for name in value:
                if name != "simulator" and name not in served:
                    raise ValueError(f"{_not_served(name, served)}: remove overrides.{name}")
        return value

    @field_validator("ratios")
    @classmethod
    def _ratios_look_like_w_h(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_ratios(value)

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        if self.endpoint is Endpoint.IMAGE_TO_VIDEO:
            if not self.ratios:
                raise ValueError("an image_to_video model needs at least one ratio")
            if not self.durations:
                raise ValueError("an image_to_video model needs at least one duration")
            if self.default_duration is None:
                raise ValueError("an image_to_video model needs a default_duration")
            if self.default_duration not in self.durations:
                raise ValueError(
                    f"default_duration {self.default_duration} is not one of {list(self.durations)}"
                )
        if self.supports_reference and self.max_references < 1:
            raise ValueError("supports_reference needs max_references >= 1")
        if self.audio_credits_per_second is not None and not self.supports_audio:
            raise ValueError("audio_credits_per_second is set but supports_audio is false")
        for name in self.overrides:
            try:
                self.for_provider(name)
            except ValidationError as exc:
                err = exc.errors(include_input=False, include_url=False)[0]
                where = ".".join(str(part) for part in err["loc"])
                msg = err["msg"].removeprefix("Value error, ")
                raise ValueError(
                    f"with overrides.{name}: {where + ': ' if where else ''}{msg}"
                ) from None
        return self

    @property
    def display_name(self) -> str:
        """The label when one is set, else the id."""
        return self.label or self.id

    def served_by(self, provider: Provider) -> bool:
        """Whether the provider serves this model (the simulator serves every model)."""
        return provider == "simulator" or provider in self.providers

    def enabled_for(self, provider: Provider) -> bool:
        """Whether the model is enabled when the bot uses this provider."""
        if not self.served_by(provider):
            return False
        if isinstance(self.enabled, bool):
            return self.enabled
        return provider in self.enabled

    def for_provider(self, provider: Provider) -> ModelSpec | None:
        """This model as the provider serves it (its overrides applied, ``enabled`` a bool),
        or None when the provider does not serve it."""
        if not self.served_by(provider):
            return None
        enabled = self.enabled_for(provider)
        if not self.overrides and self.enabled is enabled:
            return self
        data = self.model_dump(exclude={"enabled", "overrides"})
        override = self.overrides.get(provider)
        if override is not None:
            data.update(override.model_dump(exclude_unset=True))
        return ModelSpec.model_validate({**data, "enabled": enabled})

    def ratio_aspects(self) -> dict[str, float]:
        """Each allowed ratio with its width/height aspect."""
        out: dict[str, float] = {}
        for ratio in self.ratios:
            w, h = ratio.split(":")
            out[ratio] = int(w) / int(h)
        return out


def _not_served(name: str, served: tuple[str, ...]) -> str:
    listed = ", ".join(repr(p) for p in served) or "none (the simulator only)"
    return f"{name!r} does not serve this model (its providers: {listed})"


def resolve_catalog(catalog: tuple[ModelSpec, ...], provider: Provider) -> tuple[ModelSpec, ...]:
    """The catalog as one provider serves it: only its models, its overrides applied,
    ``enabled`` true or false for it (what ``Settings.models`` holds)."""
    return tuple(s for s in (m.for_provider(provider) for m in catalog) if s is not None)
