"""The model registry: which trained models are installed, and the quality ladder.

Models are found through their model cards (``trained/NAME.json``): a card
with ``"codec": true`` names its weights file, that file's SHA-256 and the model's
canonical SHA-256 (:func:`aezip.grid.canonical_digest`: over what decoding needs, not
over the file's bytes).  A version 2 archive names a model by the first 8 bytes of the
canonical digest, a version 1 archive by those of the file's SHA-256 (or of an older file
listed in the card's ``"aliases"``), so ids are content-addressed: retraining gives a new
id, re-saving the same weights does not, and an archive can never be decoded with weights
other than the ones that wrote it.  Old weights
stay installed (a card may be marked ``"retired": true``: it still decodes,
but no new archive is written with it and the ladder may not use it).  A card
that is not valid JSON, or lacks its name, weights or sha256, is an error
(:class:`~aezip.errors.BadModelCard`), never silently skipped.
"""

import json
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from .container import DIGEST_BYTES, model_id
from .errors import BadAezFile, BadInput, BadModelCard, BadWeights, UnknownModel
from .grid import canonical_digest
from .infer import Network
from .weights import load_weights

__all__ = ["Model", "trained_dir", "cards", "get_model", "get_codec_model", "model_for_digest", "LADDER",
           "DEFAULT_QUALITY", "ladder_row", "measured_point", "card_psnr", "card_digests", "name_for_digest"]

# Quality level -> (model name, quantization step as a fraction of the model's
# step unit: the step a rate-aware model was trained for, else each code
# dimension's standard deviation; see grid.grid_for).  1 = smallest
# files, 9 = best quality.  Chosen from the measured (model, step) points in
# bench/ladder.md (scripts/ladder.py); each level's bytes/image and PSNR on the
# MNIST test set are in its model card (``aezip models`` lists them).
LADDER = {
    1: ("rd16", 2.0),
    2: ("rd16", 1.5),
    3: ("rd16", 1.25),
    4: ("rd16", 0.75),
    5: ("rdf32", 0.75),
    6: ("rdw64", 1.5),
    7: ("rdw64", 0.72),
    8: ("rdw128l", 1.0),
    9: ("rdw128h", 0.65),
}
# The default: rdf32, the fast MLP (encode >= 20x gzip -9's speed; rd32's CNN encoder is
# 4x slower in numpy), at <= 8 B/image and >= 20 dB on the MNIST test set.
DEFAULT_QUALITY = 5


MODELS_ENV = "AEZIP_MODELS"


def model_dirs():
    """Where models are found, first match wins: each folder in $AEZIP_MODELS (separated
    by os.pathsep, e.g. the --out folder of `aezip train`), then the bundled models."""
    extra = [Path(p) for p in os.environ.get(MODELS_ENV, "").split(os.pathsep) if p]
    return extra + [trained_dir()]


def _folder_of(name):
    """The first folder of :func:`model_dirs` with a card named *name*, or None."""
    return next((str(d) for d in model_dirs() if name in _cards(str(d))), None)


def trained_dir():
    """The folder of bundled models: the wheel's copy, or the checkout's."""
    here = Path(__file__).resolve().parent
    for cand in (here / "trained", here.parent / "trained"):
        if cand.is_dir():
            return cand
    return here / "trained"


REQUIRED = ("name", "weights", "sha256")   # what every model card must hold


def read_card(path):
    """One model card (``NAME.json``) as a dict; BadModelCard names the file and what is wrong."""
    try:
        card = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError) as e:
        raise BadModelCard(f"{path}: cannot read model card ({e})") from None
    except ValueError as e:
        raise BadModelCard(f"{path}: model card is not valid JSON ({e})") from None
    if not isinstance(card, dict):
        raise BadModelCard(f"{path}: model card is a JSON {type(card).__name__}, expected an object")
    if card.get("kind") == "lossless pixel model":   # aezip.lossless's model: named by its own digest
        return dict(card, task="pixels", codec=False, model_id=model_id(card["name"], card["digest"]))
    missing = [k for k in REQUIRED if not card.get(k)]
    if missing:
        raise BadModelCard(f"{path}: model card lacks {', '.join(map(repr, missing))}")
    return card


@lru_cache(maxsize=None)
def _cards(folder):
    out = {}
    for path in sorted(Path(folder).glob("*.json")):
        card = read_card(path)
        out[card["name"]] = card
    return out


def cards():
    """{name: model card} of every installed model, $AEZIP_MODELS first (a bad card is an
    error, not skipped)."""
    out = {}
    for folder in reversed(model_dirs()):
        out.update(_cards(str(folder)))
    return out


class Model:
    """A loaded model: numpy encoder and decoder plus its calibration."""

    def __init__(self, card, folder):
        self.card = card
        self.name = card["name"]
        meta, arrays, digest = load_weights(Path(folder) / card["weights"], expect_sha256=card["sha256"])
        self.sha256 = digest
        self.file_digest = bytes.fromhex(digest)[:DIGEST_BYTES]   # what version 1 archives name
        canonical = canonical_digest(meta, arrays)
        if card.get("canonical_sha256") and canonical.hex() != card["canonical_sha256"]:
            raise BadWeights(f"{card['weights']}: canonical SHA-256 {canonical.hex()[:16]}… does not match "
                             f"its model card ({card['canonical_sha256'][:16]}…)")
        self.canonical_sha256 = canonical.hex()
        self.digest = canonical[:DIGEST_BYTES]   # what version 2 archives name
        self.meta = meta
        self.latent_dim = meta["latent_dim"]
        self.input_shape = tuple(meta["input_shape"])
        self.output_shape = tuple(meta["output_shape"])
        self.task = meta.get("task", "reconstruct")
        cal = meta["calibration"]
        self.code_std = np.asarray(cal["std"], np.float64)
        self.code_min = np.asarray(cal["min"], np.float64)
        self.code_max = np.asarray(cal["max"], np.float64)
        self.encoder = Network(meta["encoder"], arrays)
        self.decoder = Network(meta["decoder"], arrays)
        self._negative_logits = _negative_logits(meta["decoder"], arrays)

    @property
    def model_id(self):
        return model_id(self.name, self.digest)

    @property
    def retired(self):
        """A retired model still decodes its archives but writes no new ones."""
        return bool(self.card.get("retired"))

    def encode(self, images):
        """uint8 (N, H, W) -> float32 codes (N, latent_dim)."""
        x = np.asarray(images, np.float32).reshape((len(images), 1) + self.input_shape)
        x *= np.float32(1 / 255)
        return self.encoder(x)

    def decode(self, codes):
        """float codes (N, latent_dim) -> uint8 images (N, H, W): round(255 * decoder output)."""
        codes = np.asarray(codes, np.float32)
        if self._negative_logits is not None:
            # the usual sigmoid decoder, in fewer passes over the pixels: 255 / (1 + exp(-logit))
            y = self._negative_logits(codes)
            with np.errstate(over="ignore", invalid="ignore"):
                np.exp(y, out=y)
                y += 1
                np.divide(255, y, out=y)
        else:
            y = self.decoder(codes)
            y *= 255
        np.rint(y, out=y)
        # formats/aez.md §5.1: a decoder whose output is not finite fails (never a black image)
        if np.isnan(y).any():
            raise BadAezFile(f"model {self.model_id} decoded a non-finite value (codes far outside "
                             "what it was trained on)")
        np.clip(y, 0, 255, out=y)
        return y.astype(np.uint8).reshape((len(codes),) + self.output_shape)

    def run(self, images, chunk=4096):
        """Encoder then decoder, in chunks: images -> images (for denoise/upscale models)."""
        out = [self.decode(self.encode(images[i:i + chunk])) for i in range(0, len(images), chunk)]
        return np.concatenate(out) if out else np.zeros((0,) + self.output_shape, np.uint8)


def _negative_logits(ops, arrays):
    """For a decoder ending in linear -> sigmoid (-> reshape): a Network giving minus the logits.

    Negating the last layer's weights is exact, so exp of its output is exp(-logit) bit for
    bit; returns None for any other decoder shape.
    """
    core = ops[:-1] if ops and ops[-1]["op"] == "reshape" else ops
    if len(core) < 2 or core[-1]["op"] != "sigmoid" or core[-2]["op"] != "linear":
        return None
    p = core[-2]["param"]
    negated = dict(arrays)
    negated[p + ".weight"] = -arrays[p + ".weight"]
    negated[p + ".bias"] = -arrays[p + ".bias"]
    return Network(core[:-1], negated)


@lru_cache(maxsize=None)
def _load(name, folder):
    return Model(_cards(folder)[name], folder)


def get_model(name):
    """Load an installed model by name (cached)."""
    folder = _folder_of(name)
    if folder is None:
        raise UnknownModel(f"unknown model {name!r} (installed: {', '.join(cards()) or 'none'})")
    task = _cards(folder)[name].get("task")
    if task in ("classify", "pixels"):
        what = "the digit classifier (aezip.verdict)" if task == "classify" else "the pixel model (aezip.lossless)"
        raise UnknownModel(f"model {name!r} is {what}, not an autoencoder")
    return _load(name, folder)


def get_codec_model(name_or_model):
    """A model that may write new archives (by name, or a loaded :class:`Model`): a codec
    (reconstruct) model that is not retired; else BadInput."""
    model = name_or_model if isinstance(name_or_model, Model) else get_model(name_or_model)
    if model.task != "reconstruct":
        raise BadInput(f"model {model.name!r} is a {model.task} model, not a codec model")
    if model.retired:
        raise BadInput(f"model {model.model_id} is retired: it still decodes its archives, "
                           "but writes no new ones")
    return model


def card_digests(card):
    """Every 8-byte digest an archive may use to name this card's model: the canonical one
    (version 2), the weights file's (version 1) and the card's ``aliases`` (older files)."""
    if card.get("task") == "pixels":
        return [bytes.fromhex(card["digest"])[:DIGEST_BYTES]]
    out = [bytes.fromhex(card["sha256"])[:DIGEST_BYTES]]
    if card.get("canonical_sha256"):
        out.insert(0, bytes.fromhex(card["canonical_sha256"])[:DIGEST_BYTES])
    out += [bytes.fromhex(a)[:DIGEST_BYTES] for a in card.get("aliases", [])]
    return out


def name_for_digest(digest):
    """The name of the installed model an archive's digest names, without loading it; None if none."""
    for card in cards().values():
        if digest in card_digests(card):
            return card["name"]
    return None


def model_for_digest(digest, name=None):
    """Load the installed model that *digest* (8 bytes) names (:func:`card_digests`), retired
    or not: every archive an installed model wrote stays readable."""
    for folder in map(str, model_dirs()):
        for card in _cards(folder).values():
            if card.get("task") not in ("classify", "pixels") and digest in card_digests(card):
                return _load(card["name"], folder)
    have = ", ".join(c["model_id"] for c in cards().values() if c.get("task") not in ("classify", "pixels")) \
        or "none"
    need = f"model {model_id(name, digest)}" if name else f"the model with digest {digest.hex()}"
    raise UnknownModel(f"archive needs {need}, which is not installed (installed: {have})")


def card_psnr(card):
    """The headline test-set PSNR a model card measured (codec, denoiser or up-sampler), or None."""
    m = card.get("measured", {})
    return m.get("test_psnr_float_code", m.get("test_psnr", m.get("test_psnr_clean_input")))


def measured_point(quality):
    """(model name, step fraction, card row or None) of a quality level; the row holds the
    bytes per image and PSNR the model's card measured on the MNIST test set."""
    name, fraction = ladder_row(quality)
    rows = cards().get(name, {}).get("measured", {}).get("quantized", [])
    row = next((r for r in rows if abs(r["step_fraction"] - fraction) < 1e-5), None)
    return name, fraction, row


def ladder_row(quality):
    if quality not in LADDER:
        raise ValueError(f"quality {quality!r} must be an integer from 1 to 9")
    return LADDER[quality]
