"""The verdict: does an image look like a digit this codec handles?  (numpy only)

:func:`judge` flags an image when any of three signs says no; each sign is one bit of
the image's reason code (0 = looks like a digit):

====  =======================  ==============================================================
bit   code                     meaning
====  =======================  ==============================================================
1     poor-reconstruction      its PSNR is below what this quality level gives MNIST digits
2     classifier-disagrees     the digit classifier reads the reconstruction differently from
                               the original: it gives the original's top class (a digit or
                               "not a digit") a low probability
4     classifier-unsure        the classifier does not see a digit in the original: its top
                               digit probability is low
====  =======================  ==============================================================

The classifier is ``digitclf`` (trained/digitclf.npz, card trained/digitclf.json): a small MLP
784-256-128-11 trained by :mod:`aezip.training.classifier` on MNIST digits, the codec's
reconstructions of them and synthetic non-digits.  The thresholds live in the weights file
(so its SHA-256 covers them) and were chosen on 5,000 MNIST training digits held out from
training: ``psnr_floor[q]`` is the 0.3 % quantile of their PSNR at quality q,
``min_confidence`` the 0.4 % quantile of their top digit probability, and
``min_agreement[q]`` the 0.3 % quantile of the reconstruction's probability of the original's
top class at quality q (see :func:`aezip.training.classifier.choose_thresholds`).
"""

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import UnknownModel
from .infer import Network
from .weights import load_weights

__all__ = ["judge", "Judge", "get_judge", "softmax", "reason_codes", "describe", "REASONS",
           "POOR_RECONSTRUCTION", "CLASSIFIER_DISAGREES", "CLASSIFIER_UNSURE"]

POOR_RECONSTRUCTION = 1
CLASSIFIER_DISAGREES = 2
CLASSIFIER_UNSURE = 4

# bit -> (stable code, human text)
REASONS = {
    POOR_RECONSTRUCTION: ("poor-reconstruction",
                          "reconstruction error far above what this quality level gives MNIST digits"),
    CLASSIFIER_DISAGREES: ("classifier-disagrees",
                           "the digit classifier reads the reconstruction differently from the original"),
    CLASSIFIER_UNSURE: ("classifier-unsure", "the digit classifier does not see a digit in the original"),
}

NAME = "digitclf"
NOT_A_DIGIT = 10


def softmax(logits):
    """Row-wise softmax of float32 logits (N, K)."""
    z = logits - logits.max(1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(1, keepdims=True)
    return z


def reason_codes(bits):
    """The stable codes of a reason byte, e.g. 5 -> ['poor-reconstruction', 'classifier-unsure']."""
    return [code for bit, (code, _) in sorted(REASONS.items()) if int(bits) & bit]


def describe(bits):
    """One line of text for a reason byte ('' for 0)."""
    return "; ".join(text for bit, (_, text) in sorted(REASONS.items()) if int(bits) & bit)


class Judge:
    """The loaded classifier and thresholds; call :meth:`judge`."""

    def __init__(self, folder):
        folder = Path(folder)
        try:
            card = json.loads((folder / f"{NAME}.json").read_text())
        except (OSError, ValueError) as e:
            raise UnknownModel(f"{folder / (NAME + '.json')}: cannot read the classifier's card ({e})") from None
        meta, arrays, digest = load_weights(folder / card["weights"], expect_sha256=card["sha256"])
        self.card, self.meta, self.sha256 = card, meta, digest
        self.network = Network(meta["ops"], arrays)
        t = meta["thresholds"]
        self.psnr_floor = {int(q): float(v) for q, v in t["psnr_floor"].items()}
        self.min_confidence = float(t["min_confidence"])
        self.min_agreement = {int(q): float(v) for q, v in t["min_agreement"].items()}

    def probabilities(self, images):
        """uint8 (N, 28, 28) -> float32 (N, 11) class probabilities (digits 0-9, not-a-digit)."""
        x = np.asarray(images).reshape(len(images), -1).astype(np.float32)
        x *= np.float32(1 / 255)
        return softmax(self.network(x))

    def judge(self, originals, reconstructions, quality, psnr=None, parallel=True):
        """(flagged bool (N,), reasons uint8 (N,)) for images and what the codec made of them.

        *quality* is the ladder level 1-9 the reconstructions come from; None (a model or
        step chosen by hand) leaves out the PSNR test, which has no reference then.
        *psnr* is the per-image PSNR in dB (inf = stored exactly, never poor); computed
        when None.  *parallel* spreads chunks over the cores (aezip.codec.map_chunks); pass
        False when calling from inside a worker that already runs on one chunk.
        """
        originals = np.asarray(originals, np.uint8)
        reconstructions = np.asarray(reconstructions, np.uint8)
        if originals.shape != reconstructions.shape or originals.ndim != 3 or originals.shape[1:] != (28, 28):
            raise ValueError(f"originals {originals.shape} and reconstructions {reconstructions.shape} "
                             "must both be (N, 28, 28)")
        if quality is not None and int(quality) not in self.psnr_floor:
            raise ValueError(f"quality {quality!r} must be an integer from 1 to 9 (or None)")
        n = len(originals)
        reasons = np.zeros(n, np.uint8)
        if n == 0:
            return reasons != 0, reasons
        if quality is not None:
            quality = int(quality)
            if psnr is None:
                from .metrics import psnr_per_image
                psnr = psnr_per_image(originals, reconstructions)
            psnr = np.asarray(psnr, np.float64)
            if psnr.shape != (n,):
                raise ValueError(f"psnr has shape {psnr.shape}, expected ({n},)")
            poor = ~(psnr >= self.psnr_floor[quality])   # NaN counts as poor
            reasons[poor] |= POOR_RECONSTRUCTION
        # without a quality level, the strictest level's agreement threshold (q9's reconstructions
        # are the closest to the originals, so its threshold is the highest)
        min_agreement = self.min_agreement[quality if quality is not None else max(self.min_agreement)]

        def work(lo, hi):
            p = self.probabilities(np.concatenate([originals[lo:hi], reconstructions[lo:hi]]))
            po, pr = p[:hi - lo], p[hi - lo:]
            top = po.argmax(1)
            bits = np.where(pr[np.arange(hi - lo), top] < min_agreement, CLASSIFIER_DISAGREES, 0)
            bits |= np.where(po[:, :NOT_A_DIGIT].max(1) < self.min_confidence, CLASSIFIER_UNSURE, 0)
            reasons[lo:hi] |= bits.astype(np.uint8)

        if parallel:
            from .parallel import map_chunks
            map_chunks(work, n)
        else:
            for lo in range(0, n, 2048):
                work(lo, min(lo + 2048, n))
        return reasons != 0, reasons


@lru_cache(maxsize=None)
def _judge(folder):
    return Judge(folder)


def get_judge():
    """The bundled classifier (cached), from the same folder as the codec models."""
    from .zoo import trained_dir
    return _judge(str(trained_dir()))


def judge(originals, reconstructions, quality, psnr=None, parallel=True):
    """Flag images that do not look like digits this codec handles.

    :param originals: uint8 (N, 28, 28), the images given to the compressor.
    :param reconstructions: uint8 (N, 28, 28), what a decoder outputs for them.
    :param quality: the ladder level 1-9 used, or None (no PSNR reference: that test is left out).
    :param psnr: per-image PSNR in dB (float (N,), inf = exact), as the compressor computes it;
        computed from the images when None.
    :param parallel: spread the work over the cores; False inside a per-chunk worker.
    :returns: (flagged bool (N,), reasons uint8 (N,)): the OR of the REASONS bits, 0 = looks
        like a digit; :func:`reason_codes` and :func:`describe` turn a byte into words.
    """
    return get_judge().judge(originals, reconstructions, quality, psnr, parallel)
