import pytest

from bot.worker.failures import describe_failure


@pytest.mark.parametrize(
    ("code", "words", "moderation"),
    [
        ("SAFETY.INPUT.TEXT", "prompt", True),
        ("INPUT_PREPROCESSING.SAFETY.TEXT", "prompt", True),
        ("SAFETY.INPUT.IMAGE", "input image", True),
        ("SAFETY.OUTPUT.VIDEO", "blocked the result", True),
        ("SAFETY.SOMETHING_NEW", "safety", True),
        ("INTERNAL.BAD_OUTPUT.CODE01", "quality", False),
        ("INPUT_PREPROCESSING.INTERNAL", "prepare the input", False),
        ("ASSET.INVALID", "could not read", False),
        ("THIRD_PARTY.UNAVAILABLE", "unavailable", False),
        ("INTERNAL", "internal problem", False),
    ],
)
def test_families_in_plain_words(code: str, words: str, moderation: bool) -> None:
    info = describe_failure(code)
    assert words in info.message and info.moderation is moderation
    assert code not in info.message  # plain words, not codes


def test_unknown_codes_are_shown_only_when_harmless() -> None:
    assert (
        describe_failure("NEW.FAMILY").message
        == "Runway could not make this video (code NEW.FAMILY)."
    )
    assert describe_failure(None).message == "Runway could not make this video."
    assert "@everyone" not in describe_failure("@everyone **hi**").message
    assert describe_failure("safety.input.text").moderation
