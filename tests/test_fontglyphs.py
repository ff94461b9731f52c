"""Font glyphs for the digit check: the training fonts never include the evaluation fonts,
font digits are never negatives, and the augmented glyphs are deterministic."""

import shutil
import string
from pathlib import Path

import numpy as np
import pytest

from aezip.training import fontglyphs
from aezip.training.nondigits import looks_like_a_one

EVAL_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def test_negative_chars_hold_no_digit_and_nothing_that_looks_like_one():
    assert not set(fontglyphs.NEGATIVE_CHARS) & set(string.digits)
    assert not set(fontglyphs.NEGATIVE_CHARS) & set(fontglyphs.LOOKS_LIKE_A_DIGIT)
    # the evaluation's letters and symbols are all there but for those that look like 0 or 1
    evaluated = string.ascii_letters + "+-=*/#@%&?!()[]<>{}$"
    assert set(evaluated) - set(fontglyphs.NEGATIVE_CHARS) == set(fontglyphs.LOOKS_LIKE_A_DIGIT) - {"|"}


@pytest.mark.skipif(not EVAL_FONT.exists(), reason="fonts-dejavu-core not installed")
def test_training_fonts_refuse_evaluation_fonts(tmp_path):
    shutil.copy(EVAL_FONT, tmp_path / EVAL_FONT.name)
    with pytest.raises(ValueError, match="evaluation font"):
        fontglyphs.training_fonts(tmp_path)
    (tmp_path / EVAL_FONT.name).unlink()
    shutil.copy(EVAL_FONT, tmp_path / "MyFont.ttf")   # same file under another name: still refused
    with pytest.raises(ValueError, match="evaluation font"):
        fontglyphs.training_fonts(tmp_path)


def test_training_fonts_refuse_related_families(tmp_path):
    for name in ("FreeSans.ttf", "LiberationSerif-Bold.ttf", "Arimo-Regular.ttf", "texgyreheros-regular.otf",
                 "NimbusSans-Regular.otf", "Vera.ttf"):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(ValueError, match="evaluation font"):
            fontglyphs.training_fonts(tmp_path)
        (tmp_path / name).unlink()


@pytest.mark.skipif(not EVAL_FONT.exists(), reason="fonts-dejavu-core not installed")
def test_augmented_glyphs_are_deterministic_and_preprocessed():
    a, ca = fontglyphs.augmented_glyphs(40, [EVAL_FONT], "ABC#%()", seed=3, reject=fontglyphs.reject_bar)
    b, cb = fontglyphs.augmented_glyphs(40, [EVAL_FONT], "ABC#%()", seed=3, reject=fontglyphs.reject_bar)
    assert a.dtype == np.uint8 and a.shape == (40, 28, 28)
    assert np.array_equal(a, b) and ca == cb and set(ca) <= set("ABC#%()")
    assert not np.array_equal(a, fontglyphs.augmented_glyphs(40, [EVAL_FONT], "ABC#%", seed=4)[0])
    assert all(g.max() > 128 and max(np.ptp(np.nonzero(g > 25)[0]), np.ptp(np.nonzero(g > 25)[1])) < 22 for g in a)
    assert not any(looks_like_a_one(g) for g, c in zip(a, ca) if c in "()")


@pytest.mark.skipif(not EVAL_FONT.exists(), reason="fonts-dejavu-core not installed")
def test_eval_render_is_unchanged():
    """The evaluation's glyphs are what the script has always drawn (canvas 3x the size, text at (size, size))."""
    from PIL import Image, ImageDraw, ImageFont
    from aezip.inputs import mnist_preprocess
    font = ImageFont.truetype(str(EVAL_FONT), 24)
    img = Image.new("L", (72, 72), 255)
    ImageDraw.Draw(img).text((24, 24), "K", fill=0, font=font)
    want = mnist_preprocess(np.asarray(img, np.float64) / 255)
    assert np.array_equal(fontglyphs.render(EVAL_FONT, 24, "K"), want)
    assert EVAL_FONT in fontglyphs.eval_fonts()
