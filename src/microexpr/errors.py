"""Errors a user can act on. The CLI prints their message as one line and exits non-zero, never a traceback."""

from __future__ import annotations


class MicroexprError(Exception):
    """Base class: the message is meant for the user and names the file or option at fault."""

    exit_code = 2


class InputError(MicroexprError):
    """A source that is missing, unreadable, truncated, empty or of a wrong format."""


class OptionError(MicroexprError):
    """A command-line or API option with a value that cannot work (an unknown --neutral range, say)."""


class ModelError(MicroexprError):
    """The face model is missing, corrupt, or could not be fetched."""


class OutputError(MicroexprError):
    """The output folder cannot be created or written."""
