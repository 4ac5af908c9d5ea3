"""Exceptions whose message is meant for the user, as one clear line.

The CLI turns these into exit code 2 and the UI into a visible message; anything else is a
bug and keeps its traceback.
"""


class SRError(Exception):
    """Base class: ``str(exc)`` is a complete, human sentence."""


class InputImageError(SRError):
    """The input file is missing, unreadable, not an image, too small or too large."""


class MethodError(SRError):
    """Unknown method id, unsupported scale, or a method that is not available here."""


class ModelFileError(SRError):
    """A model file that is corrupt, not a model, unsafe, or fails its SHA-256 check."""
