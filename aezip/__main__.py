"""``python -m aezip``: the same as the ``aezip`` command."""

from .cli import entry

entry()
