"""Every refusal of the media layer is a catalogue text: English as before, and read in the
member's language (Japanese, Spanish) with nothing left in English."""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

import pytest

import bot.media.errors as media_errors
from bot.media import MediaError, prepare_image, prepare_video
from bot.media.fit import fit_clip
from tests.bot.media.conftest import noise
from tests.bot.media.hostile import ALL_CASES, Case, heic_like

pytestmark = pytest.mark.timeout(120)

MEDIA = Path(media_errors.__file__).parent
ERRORS = {
    name
    for name, value in vars(media_errors).items()
    if isinstance(value, type) and issubclass(value, MediaError)
}
# English words a translated sentence must not keep (names such as PNG or Runway may stay).
ENGLISH = re.compile(r"\b(the|this|that|is|file|image|video|not|send|try|it)\b", re.IGNORECASE)


def refusal(case: Case) -> MediaError:
    data = case.data()
    with pytest.raises(MediaError) as caught:
        if case.slot == "image":
            prepare_image(data, filename=case.filename)
        else:
            prepare_video(data, filename=case.filename, max_seconds=30.0, keep_seconds=5.0)
    return caught.value


@pytest.mark.parametrize("case", [c for c in ALL_CASES if not c.converted], ids=lambda c: c.id)
def test_every_refusal_reads_in_each_language(case: Case) -> None:
    error = refusal(case)
    assert error.key is not None and error.key.startswith("media.")
    assert error.text("en-US") == error.message == case.prepare_refusal
    japanese, spanish = error.text("ja"), error.text("es-ES")
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", japanese), japanese
    assert not ENGLISH.search(japanese), japanese
    assert spanish != error.message and "That" not in spanish and "This" not in spanish


def test_a_damaged_image_in_japanese_and_spanish() -> None:
    buf = io.BytesIO()
    noise((800, 600)).save(buf, format="PNG")
    whole = buf.getvalue()
    with pytest.raises(MediaError) as caught:
        prepare_image(whole[: len(whole) // 2], filename="sea.png")
    assert caught.value.message.startswith("This image is damaged or incomplete")
    assert caught.value.text("ja") == (
        "この画像は壊れているか不完全なため、読み込めません。"
        "もう一度保存するか書き出してから試してください。"
    )
    assert caught.value.text("es-419").startswith("Esta imagen está dañada o incompleta")


def test_what_a_file_is_is_translated_inside_the_sentence() -> None:
    with pytest.raises(MediaError) as caught:
        prepare_image(b"%PDF-1.7 not an image", filename="photo.png")
    error = caught.value
    assert error.message == (
        "That file is called .png but it is actually a PDF document, not an image."
    )
    assert error.text("ja") == (
        "そのファイルは .png という名前ですが、実際にはPDF 文書で、画像ではありません。"
    )
    assert error.text("es") == (
        "Ese archivo se llama .png pero en realidad es un documento PDF, no una imagen."
    )


def test_a_phrase_that_starts_the_sentence_is_capitalised_in_every_language() -> None:
    with pytest.raises(MediaError) as caught:
        prepare_image(heic_like(), filename="IMG_0001.HEIC")
    assert caught.value.message.startswith("A HEIC photo cannot be used here")
    assert caught.value.text("ja").startswith("HEIC 写真はここでは使えません。")
    assert caught.value.text("es").startswith("Una foto HEIC no se puede usar aquí")
    assert caught.value.text("es").endswith(
        "(En un iPhone: Ajustes > Cámara > Formatos > Más compatible.)"
    )


def test_a_clip_with_no_room_is_refused_in_japanese(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\0" * 1000)
    with pytest.raises(MediaError) as caught:
        fit_clip(clip, 0, tmp_path / "work")
    assert caught.value.message == "There is no room to upload this clip here."
    assert caught.value.text("ja") == "ここにはこのクリップをアップロードする余裕がありません。"


def test_no_media_error_is_raised_with_a_bare_english_text() -> None:
    loose: list[str] = []
    for path in MEDIA.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id in ERRORS and not any(k.arg == "key" for k in node.keywords):
                loose.append(f"{path.name}:{node.lineno} {node.func.id}(...)")
    assert not loose, f"raise these with .of(key): {loose}"
