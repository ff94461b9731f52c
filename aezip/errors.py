"""The aezip error family.

Every error aezip raises on purpose is an :class:`AezError`.  Malformed or
damaged archives raise :class:`BadAezFile`, which is also an :class:`OSError`
(as :class:`gzip.BadGzipFile` is), so ``except OSError`` keeps working for
callers that treat a bad file like any other I/O failure.  Bad inputs to compress are
:class:`BadInput`, bad training data :class:`BadData`, a damaged installed model
:class:`BadWeights` or :class:`BadModelCard` (not :class:`UnknownModel`, which means
"not installed"), refused outputs :class:`OutputExists` and :class:`UnsafeName`.
"""

__all__ = [
    "AezError",
    "BadAezFile",
    "UnsupportedVersion",
    "UnknownModel",
    "BadInput",
    "BadData", "NeedsPreprocessing",
    "BadWeights",
    "BadModelCard",
    "OutputExists",
    "UnsafeName",
    "RoundTripError",
]


class AezError(Exception):
    """Base class of every error raised by aezip."""


class BadAezFile(AezError, OSError):
    """An .aez archive is truncated, damaged or not an .aez file at all."""


class UnsupportedVersion(BadAezFile):
    """An .aez archive uses a format version this aezip cannot read."""


class UnknownModel(AezError, LookupError):
    """An archive (or a caller) names a model that is not installed."""


class BadInput(AezError, ValueError):
    """An input image, array or path cannot be compressed."""


class NeedsPreprocessing(BadInput):
    """An input that is not a 28x28 white-on-black grayscale image, given to a mode that
    stores pixels exactly (lossless, --max-error, --min-psnr's copies) without --preprocess."""


class BadData(AezError, OSError):
    """A training data file (MNIST IDX) is missing or malformed."""


class BadWeights(AezError, OSError):
    """An installed weights file cannot be read, is damaged, or does not match its model card."""


class BadModelCard(AezError, ValueError):
    """An installed model card (``trained/NAME.json``) is not valid JSON or lacks a required field."""


class OutputExists(AezError, FileExistsError):
    """The output exists and overwriting was not asked for."""


class UnsafeName(AezError, ValueError):
    """An archive holds a name that would write outside the output folder."""


class RoundTripError(AezError):
    """A lossless codec in the benchmark did not give back the exact pixels."""
