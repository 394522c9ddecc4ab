"""Errors in what the user gave a stage, whose message says what to fix (one line, no
traceback on stderr: ossinstruct.logs). Here, below every other module, so that a module
that validates input raises them without importing the config machinery."""

from __future__ import annotations


class ConfigError(ValueError):
    """A config key holds a value the pipeline cannot use; the message names the key."""
