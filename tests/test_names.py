"""The name rules of formats/aez.md §5.2 (aezip.names): what is refused, how names compare,
how the writer makes them unique, and how archive strings are shown on a terminal."""

import pytest

from aezip.errors import UnsafeName
from aezip.names import check_name, check_names, name_key, printable, sanitize_name, unique_names

BAD = {
    "": "empty",
    "/etc/passwd": "absolute",
    "a\\b.png": "backslash",
    "C:x.png": "colon",
    "a/../b.png": "'..'",
    "./a.png": "'.'",
    "a//b.png": "empty",
    "tab\there.png": "U+0009",
    "del\x7f.png": "U+007F",
    "c1\x85.png": "U+0085",
    "spoof\u202egnp.exe": "U+202E",
    "zero\u200bwidth.png": "U+200B",
    "bom\ufeff.png": "U+FEFF",
    "line\u2028sep.png": "U+2028",
    "CON.png": "device",
    "dir/nul": "device",
    "com1.tar.gz": "device",
    "LPT9 .png": "device",
    "trailing.": "dot",
    "trailing ": "space",
    "e\u0301.png": "NFC",
    "/".join(["d"] * 65): "components",
    "x" * 256: "bytes",
}


@pytest.mark.parametrize("name,why", BAD.items())
def test_bad_names_are_refused_with_the_reason(name, why):
    reason = check_name(name)
    assert reason is not None and why in reason


@pytest.mark.parametrize("name", ["a.png", "0/00003.png", "é.png", "console.png", "com10.png", "a b.png",
                                  "深/数字.png", "x" * 255])
def test_good_names_pass(name):
    assert check_name(name) is None


def test_names_compare_after_nfc_and_case_folding():
    assert name_key("A.PNG") == name_key("a.png")
    assert name_key("Stra\u00dfe.png") == name_key("STRASSE.png")
    assert name_key("e\u0301.png") == name_key("\u00e9.png")
    with pytest.raises(UnsafeName, match="same file"):
        check_names(["a.png", "A.png"])
    with pytest.raises(UnsafeName, match="held twice"):
        check_names(["a.png", "a.png"])
    with pytest.raises(UnsafeName, match="both a file and a folder"):
        check_names(["a.png", "A.PNG/b.png"])
    check_names(["a.png", "b/a.png", "c.png"])


def test_unique_names_always_pass_check_names():
    given = ["a.png", "A.png", "a.png", "a.png/b.png", "CON.png", "x\x1b]0;t\x07.png", "e\u0301.png",
             "\u00e9.png", "d/../e.png", "a~2.png"]
    names, renamed = unique_names(given)
    check_names(names)
    assert len(names) == len(given)
    assert {g for g, _ in renamed} >= {"A.png", "CON.png", "x\x1b]0;t\x07.png", "d/../e.png"}
    assert unique_names(["0/1.png", "1/1.png"]) == (["0/1.png", "1/1.png"], [])


def test_sanitize_makes_valid_names():
    for name in BAD:
        if name:
            assert check_name(sanitize_name(name)) is None, name


def test_printable_escapes_what_a_terminal_acts_on():
    hostile = "\x1b]0;owned\x07\x1b[2J\r\u202eevil\x9b"
    shown = printable(hostile)
    assert not any(ord(c) < 32 or 0x7f <= ord(c) < 0xa0 or c == "\u202e" for c in shown)
    assert "\\x1b" in shown and "\\u202e" in shown and "\\x9b" in shown
    assert printable("0/00003.png") == "'0/00003.png'"
