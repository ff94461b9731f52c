"""The aezip error family.

Every error aezip raises on purpose is an :class:`AezError`.  Malformed or
damaged archives raise :class:`BadAezFile`, which is also an :class:`OSError`
(as :class:`gzip.BadGzipFile` is), so ``except OSError`` keeps working for
callers that treat a bad file like any other I/O failure.
"""

__all__ = [
    "AezError",
    "BadAezFile",
    "UnsupportedVersion",
    "UnknownModel",
    "BadInput",
    "BadData",
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


class BadData(AezError, OSError):
    """A training data file (MNIST IDX) is missing or malformed."""
