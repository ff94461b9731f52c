"""The lossless payload's layout: constants, chunk and lane split, varints, the LZMA filter.

Payload layout (all integers little-endian; formats/aez.md §5.7 is the full spec):

    u8       layout version (2; 1 is still read)
    u8       max_error K (0 = lossless)
    per chunk, in order:  u8 mode, uleb128 body length
    the chunk bodies, in order

Chunks: n = ceil(count / CHUNK) chunks, one more when that is odd and > 1; chunk i holds
images [floor(i * count / n), floor((i + 1) * count / n)).  A function of the count only,
so the bytes never depend on the thread count.

Modes: 0 = pixel model + rANS (body: u32 state per lane, then u16 words; a chunk of m
images is coded in rounds = ceil(m / ROUND) rounds of at most ceil(m / rounds) images,
a round's images split into at most GROUPS groups of `lanes` consecutive images each, one
image per lane in a group: see :func:`round_layout`; ROUND and GROUPS depend on the layout
version),
1 = raw LZMA2 stream of the chunk's decoded pixels, 2 = the decoded pixels stored.

The encoder (encode.py) and the decoder (decode.py) read CHUNK and LAYOUTS here, at call
time: tests that shrink them patch this module.
"""

import lzma

from ..container_v2 import read_varint
from ..errors import BadAezFile

__all__ = [
    "LAYOUT_VERSION",
    "CHUNK",
    "LAYOUTS",
    "MODE_MODEL",
    "MODE_LZMA",
    "MODE_STORED",
    "BadLosslessPayload",
    "chunk_count",
    "chunk_spans",
    "round_layout",
]

LAYOUT_VERSION = 2  # what the encoder writes
CHUNK = 8192  # most images per chunk
# layout version -> (ROUND: most images per round, GROUPS: most images per lane per round).
# Version 1: rounds of up to 1,024 images, one image per lane.  Version 2: a chunk is one
# round (ROUND = CHUNK) on an eighth as many lanes, the round's images in 8 groups one
# after another within each step: the model then runs once per position for the whole
# chunk (fewer numpy calls per image: decoding 10-20 % faster here) and there are 8x fewer
# 4-byte final states (MNIST test: -0.2 B/image).  formats/aez.md §5.7.2 specifies both.
LAYOUTS = {1: (1024, 1), 2: (8192, 8)}
MODE_MODEL, MODE_LZMA, MODE_STORED = 0, 1, 2


class BadLosslessPayload(BadAezFile):
    """A lossless pixel payload is truncated, damaged or inconsistent with its header."""


def chunk_count(count):
    """ceil(count / CHUNK), made even from 2 on (so two cores share the chunks evenly)."""
    n = -(-count // CHUNK)
    return n + 1 if n > 1 and n % 2 else n


def chunk_spans(count):
    """(start, stop) of each chunk; a function of the image count only."""
    n = chunk_count(count)
    return [(i * count // n, (i + 1) * count // n) for i in range(n)]


def round_layout(m, version=LAYOUT_VERSION):
    """(rounds, per_round, lanes) of a model chunk of m images in layout *version*.

    rounds = ceil(m / ROUND); round r holds images [r * per_round, min((r + 1) * per_round, m))
    with per_round = ceil(m / rounds); in a round, image i (from 0) is in group i // lanes on
    lane i mod lanes, lanes = ceil(per_round / GROUPS).  Every lane's state carries over
    from group to group and round to round.
    """
    round_size, groups = LAYOUTS[version]
    if m == 0:
        return 0, 0, 0
    rounds = -(-m // round_size)
    per_round = -(-m // rounds)
    return rounds, per_round, -(-per_round // groups)


def groups_of(n, lanes):
    """(start, stop) of the groups of a round of n images on *lanes* lanes."""
    return [(a, min(a + lanes, n)) for a in range(0, n, lanes)]


# --- chunk lengths: the container's varint (formats/aez.md §3: LEB128, minimal, at most 5 bytes)
def _read_uleb(buf, pos):
    """(chunk length, position after it) at *pos* of the chunk table."""
    return read_varint(buf, pos, "lossless payload: chunk length", (1 << 35) - 1, BadLosslessPayload)


def _lzma_filters(nbytes):
    dict_size = max(4096, 1 << max(0, int(nbytes - 1).bit_length()))
    return [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "dict_size": dict_size}]
