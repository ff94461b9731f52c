"""Vectorized rANS over many lanes in lockstep (numpy only).

One lane per image.  Each lane has a state x in [L, 2**32), L = 2**16; probabilities
are integers out of 2**16 (PREC = 16); renormalization moves one 16-bit word.

Coding a symbol of frequency f and cumulative start c (decoder view):
    slot = x mod 2**16;  find the symbol with c <= slot < c + f
    x = f * (x >> 16) + slot - c
    if x < L: x = (x << 16) | next word
Encoding is the exact inverse, run in reverse order:
    if x >= f << 16: emit x mod 2**16; x >>= 16
    x = ((x // f) << 16) + (x mod f) + c

Word order: the decoder runs "steps" (one symbol for a subset of lanes); within a
step the lanes that need a word take consecutive words in increasing lane order.
The encoder collects each step's emitted words in increasing lane order and writes
the steps in reverse.  The encoder starts every lane at x = L; the decoder must end
with every lane at L and every word consumed.
"""

import numpy as np

__all__ = ["Encoder", "Decoder", "RansError", "LOW", "WORD_BITS"]

PREC = 16
WORD_BITS = 16
LOW = 1 << 16  # L: lower bound of the state
WORD_MASK = np.uint64((1 << WORD_BITS) - 1)
PREC_MASK = np.uint64((1 << PREC) - 1)
SHIFT = np.uint64(WORD_BITS)
PSHIFT = np.uint64(PREC)
TOTAL = 1 << PREC


class RansError(ValueError):
    """The word stream does not decode (truncated, damaged or trailing data)."""


class Encoder:
    """Encode steps in reverse decoding order; :meth:`finish` gives (states, words)."""

    def __init__(self, lanes):
        self.x = np.full(lanes, LOW, np.uint64)
        self.steps = []

    def put(self, lanes, start, freq):
        """Encode one symbol on each lane of *lanes* (index array or bool mask or None = all)."""
        f = np.asarray(freq, np.uint64)
        c = np.asarray(start, np.uint64)
        x = self.x if lanes is None else self.x[lanes]
        emit = x >= (f << SHIFT)
        if emit.any():
            self.steps.append((x[emit] & WORD_MASK).astype(np.uint16))
            x = np.where(emit, x >> SHIFT, x)
        q, x = np.divmod(x, f)
        q <<= PSHIFT
        x += q
        x += c
        if lanes is None:
            self.x = x
        else:
            self.x[lanes] = x

    def finish(self):
        """(final states as uint32 (lanes,), words as uint16 in decoder read order)."""
        words = np.concatenate(self.steps[::-1]) if self.steps else np.zeros(0, np.uint16)
        return self.x.astype(np.uint32), words


class Decoder:
    """The decoder's lanes: states as int64 (below 2**48 at every step, so no overflow)."""

    def __init__(self, states, words):
        self.x = np.asarray(states, np.int64).copy()
        if self.x.size and self.x.min() < LOW:
            raise RansError(f"initial rANS state {int(self.x.min())} below {LOW}")
        self.words = np.asarray(words, np.int64)
        self.pos = 0

    def slots(self, lanes=None):
        x = self.x if lanes is None else self.x[lanes]
        return x & (TOTAL - 1)

    def advance(self, lanes, slot, start, freq):
        """After the caller found each lane's symbol (start, freq) from *slot*: update and renormalize."""
        x = self.x if lanes is None else self.x[lanes]
        x >>= PREC
        x *= freq
        x += slot
        x -= start
        need = x < LOW
        k = int(np.count_nonzero(need))
        if k:
            if self.pos + k > self.words.size:
                raise RansError(f"rANS word stream ends early: need {self.pos + k} words, have {self.words.size}")
            x[need] = (x[need] << WORD_BITS) | self.words[self.pos : self.pos + k]
            self.pos += k
        if lanes is not None:
            self.x[lanes] = x

    def check_end(self):
        if self.pos != self.words.size:
            raise RansError(f"rANS stream has {self.words.size - self.pos} trailing words")
        if self.x.size and not (self.x == LOW).all():
            raise RansError("rANS final states do not match: the stream is damaged")
