"""The catalog's rules against the packaged catalog as the simulator serves it (no I/O)."""

from __future__ import annotations

import pytest

from bot.catalog import (
    ENDPOINTS,
    Endpoint,
    ModelSpec,
    check_inputs,
    closest_ratio,
    default_catalog,
    durations_text,
    estimate_credits,
    pick_model,
    utf16_length,
    validate_params,
)
from bot.domain import InputRole, JobError, JobInput, JobKind, JobParams

CATALOG = default_catalog("simulator")
BY_ID = {m.id: m for m in CATALOG}
I2V = Endpoint.IMAGE_TO_VIDEO
V2V = Endpoint.VIDEO_TO_VIDEO


def _p(model: str = "gen4_turbo", **kw: object) -> JobParams:
    return JobParams(model=model, **kw)  # type: ignore[arg-type]


def _spec(model_id: str) -> ModelSpec:
    return BY_ID[model_id]


def _message(err: pytest.ExceptionInfo[JobError]) -> str:
    return err.value.message


def test_each_kind_uses_its_endpoint() -> None:
    assert ENDPOINTS == {JobKind.ANIMATE: I2V, JobKind.RESTYLE: V2V}


# -- pick_model --------------------------------------------------------------------------------


def test_pick_model_returns_the_enabled_entry() -> None:
    assert pick_model(CATALOG, I2V, "veo3.1") is BY_ID["veo3.1"]
    assert pick_model(CATALOG, V2V, "aleph2") is BY_ID["aleph2"]


@pytest.mark.parametrize(
    ("endpoint", "model_id", "message"),
    [
        (
            I2V,
            "gen3_alpha",
            "Model 'gen3_alpha' is not available; choose one of: "
            "gen4_turbo, gen4.5, gen3a_turbo, veo3.1, veo3.1_fast.",
        ),
        (
            V2V,
            "@everyone <@&1>",
            "Model (that value) is not available; choose one of: gen4_aleph, aleph2.",
        ),
        (I2V, "gen4_aleph", "gen4_aleph cannot be used here; use /restyle with it."),
        (V2V, "gen4_turbo", "gen4_turbo cannot be used here; use /animate with it."),
    ],
)
def test_pick_model_refusals(endpoint: Endpoint, model_id: str, message: str) -> None:
    with pytest.raises(JobError) as err:
        pick_model(CATALOG, endpoint, model_id)
    assert _message(err) == message


def test_a_disabled_model_is_not_available() -> None:
    off = BY_ID["veo3.1"].model_copy(update={"enabled": False})
    catalog = [off if m.id == "veo3.1" else m for m in CATALOG]
    with pytest.raises(JobError) as err:
        pick_model(catalog, I2V, "veo3.1")
    assert _message(err) == (
        "Model 'veo3.1' is not available; choose one of: "
        "gen4_turbo, gen4.5, gen3a_turbo, veo3.1_fast."
    )


# -- validate_params ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "prompt", "flags", "message"),
    [
        (_p(duration=12), "", {}, "gen4_turbo accepts durations 2-10 s; you asked for 12 s."),
        (
            _p("veo3.1", duration=5),
            "",
            {},
            "veo3.1 accepts durations 4, 6 or 8 s; you asked for 5 s.",
        ),
        (
            _p("gen4.5"),
            "é" * 3 + "😀" * 600,
            {},
            "Your prompt is 1203 characters (UTF-16 units); gen4.5 accepts at most 1000.",
        ),
        (_p("gen4.5"), "   ", {}, "gen4.5 needs a prompt."),
        (
            _p("veo3.1", ratio="4:3"),
            "",
            {},
            "Ratio '4:3' is not available for veo3.1; choose one of: "
            "1280:720, 720:1280, 1080:1920, 1920:1080.",
        ),
        (
            _p("veo3.1", ratio="x" * 3000),
            "",
            {},
            "Ratio (that value) is not available for veo3.1; choose one of: "
            "1280:720, 720:1280, 1080:1920, 1920:1080.",
        ),
        (_p(seed=4294967296), "", {}, "Seed must be between 0 and 4294967295."),
        (_p(seed=-1), "", {}, "Seed must be between 0 and 4294967295."),
        (_p(audio=True), "", {}, "gen4_turbo cannot make sound."),
        (_p(), "", {"has_last_frame": True}, "gen4_turbo does not support a last frame."),
        (_p(), "", {"has_reference": True}, "gen4_turbo does not take a reference image."),
        (
            _p("gen4_aleph", duration=5),
            "snow",
            {},
            "gen4_aleph follows the length of your video; leave duration empty.",
        ),
        (
            _p("gen4_aleph", ratio="1280:720"),
            "snow",
            {},
            "gen4_aleph follows the shape of your video; leave ratio empty.",
        ),
        (_p("gen4_aleph"), "", {}, "gen4_aleph needs a prompt."),
    ],
)
def test_validation_messages(
    params: JobParams, prompt: str, flags: dict[str, bool], message: str
) -> None:
    with pytest.raises(JobError) as err:
        validate_params(_spec(params.model), params, prompt, **flags)
    assert _message(err) == message


def test_validation_fills_defaults_and_maps_friendly_ratios() -> None:
    gen4 = _spec("gen4_turbo")
    assert validate_params(gen4, _p(ratio="16:9"), " hi ") == JobParams(
        model="gen4_turbo", ratio="1280:720", duration=5
    )
    assert validate_params(gen4, _p(ratio="auto"), "").ratio is None
    assert validate_params(gen4, _p(ratio=" AUTO "), "").ratio is None
    assert validate_params(gen4, _p(ratio="4:3"), "").ratio == "1104:832"
    assert validate_params(gen4, _p(ratio="720:1280", seed=7), "").seed == 7
    veo = validate_params(_spec("veo3.1"), _p("veo3.1", audio=True), "")
    assert (veo.duration, veo.audio) == (8, True)
    aleph = validate_params(_spec("gen4_aleph"), _p("gen4_aleph"), "snow", has_reference=True)
    assert aleph == JobParams(model="gen4_aleph")


def test_the_limits_are_the_providers() -> None:
    # gen3a_turbo through CometAPI: a 512-unit prompt and seeds up to 999999999.
    comet = next(m for m in default_catalog("cometapi") if m.id == "gen3a_turbo")
    with pytest.raises(JobError) as err:
        validate_params(comet, _p("gen3a_turbo"), "x" * 513)
    assert _message(err) == (
        "Your prompt is 513 characters (UTF-16 units); gen3a_turbo accepts at most 512."
    )
    with pytest.raises(JobError) as err:
        validate_params(comet, _p("gen3a_turbo", seed=1_000_000_000), "")
    assert _message(err) == "Seed must be between 0 and 999999999."
    assert validate_params(_spec("gen3a_turbo"), _p("gen3a_turbo"), "x" * 513).duration == 5


def test_utf16_length_and_durations_text() -> None:
    assert utf16_length("😀") == 2
    assert utf16_length("é") == 1
    assert durations_text([2, 3, 4, 5, 6, 7, 8, 9, 10]) == "2-10 s"
    assert durations_text([8, 4, 6]) == "4, 6 or 8 s"
    assert durations_text([5]) == "only 5 s"
    assert durations_text([5, 10]) == "5 or 10 s"


# -- check_inputs ------------------------------------------------------------------------------


def _in(role: InputRole, seconds: float | None = None) -> JobInput:
    return JobInput(role, "video/mp4" if role is InputRole.VIDEO else "image/png", b"x",
                    duration_seconds=seconds)  # fmt: skip


IMAGE, LAST, VIDEO, REF = (
    InputRole.IMAGE,
    InputRole.LAST_FRAME,
    InputRole.VIDEO,
    InputRole.REFERENCE,
)


@pytest.mark.parametrize(
    ("model_id", "inputs", "message"),
    [
        ("gen4_turbo", (), "Attach one image to animate."),
        ("gen4_turbo", (_in(IMAGE), _in(IMAGE)), "Attach one image to animate."),
        (
            "gen4_turbo",
            (_in(IMAGE), _in(VIDEO)),
            "/animate takes an image (and optionally a last frame), not a video.",
        ),
        ("veo3.1", (_in(IMAGE), _in(LAST), _in(LAST)), "Attach at most one last frame."),
        ("gen4_aleph", (_in(REF),), "Attach one video to restyle."),
        (
            "gen4_aleph",
            (_in(VIDEO), _in(IMAGE)),
            "/restyle takes a video and optionally a reference image.",
        ),
        (
            "gen4_aleph",
            (_in(VIDEO), _in(REF), _in(REF)),
            "gen4_aleph takes at most 1 reference image(s).",
        ),
        (
            "gen4_aleph",
            (_in(VIDEO, 42.0),),
            "gen4_aleph accepts videos up to 30 s; yours is 42.0 s.",
        ),
    ],
)
def test_check_inputs_refusals(model_id: str, inputs: tuple[JobInput, ...], message: str) -> None:
    with pytest.raises(JobError) as err:
        check_inputs(_spec(model_id), inputs)
    assert _message(err) == message


def test_check_inputs_accepts() -> None:
    check_inputs(_spec("veo3.1"), (_in(IMAGE), _in(LAST)))
    check_inputs(_spec("gen4_aleph"), (_in(VIDEO, 30.0), _in(REF)))
    check_inputs(_spec("aleph2"), (_in(VIDEO),))  # length unknown: not refused here


# -- closest_ratio -----------------------------------------------------------------------------


def test_closest_ratio() -> None:
    gen4 = _spec("gen4_turbo")
    assert closest_ratio(gen4, 600, 800) == "832:1104"
    assert closest_ratio(gen4, 2000, 850) == "1584:672"
    assert closest_ratio(gen4, 1000, 1000) == "960:960"
    assert closest_ratio(gen4, None, 720) == "1280:720"  # unknown size: the first ratio
    assert closest_ratio(_spec("veo3.1"), 1080, 1920) == "720:1280"  # same aspect: the first
    with pytest.raises(JobError) as err:
        closest_ratio(_spec("gen4_aleph"), 640, 360)
    assert _message(err) == "gen4_aleph has no ratios to choose from."


# -- estimate_credits --------------------------------------------------------------------------


def test_estimates() -> None:
    gen4, veo, aleph = _spec("gen4_turbo"), _spec("veo3.1"), _spec("gen4_aleph")
    assert estimate_credits(gen4, _p(duration=10)) == 50
    assert estimate_credits(gen4, _p()) == 25  # the default duration
    assert estimate_credits(veo, _p("veo3.1", duration=8)) == 160
    assert estimate_credits(veo, _p("veo3.1", duration=8, audio=True)) == 320
    assert estimate_credits(gen4, _p(duration=5, audio=True)) == 25  # no audio rate: the base
    assert estimate_credits(aleph, _p("gen4_aleph"), 12.0) == 75  # only 5 s billed
    assert estimate_credits(aleph, _p("gen4_aleph"), 3.2) == 60  # whole seconds, rounded up
    assert estimate_credits(aleph, _p("gen4_aleph"), 3.0000001) == 45  # float noise ignored
    assert estimate_credits(aleph, _p("gen4_aleph")) == 75  # unknown length: the billed cap


def test_estimates_for_a_model_billed_by_its_whole_input() -> None:
    aleph2 = _spec("aleph2")  # no billed_input_seconds: billed up to max_input_seconds (30)
    assert estimate_credits(aleph2, _p("aleph2"), 12.0) == 12 * 28
    assert estimate_credits(aleph2, _p("aleph2"), 45.0) == 30 * 28
    assert estimate_credits(aleph2, _p("aleph2")) == 30 * 28
    uncapped = aleph2.model_copy(update={"max_input_seconds": None})
    assert estimate_credits(uncapped, _p("aleph2")) == 10 * 28  # nothing known: 10 s
    assert estimate_credits(uncapped, _p("aleph2"), 45.0) == 45 * 28
