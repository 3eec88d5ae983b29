"""Expected failures: ServiceError from the service modules (the app answers it as `{"detail": ...}`),
CommandError from the work behind a command (the CLI prints it, without a traceback)."""

from __future__ import annotations


class ServiceError(Exception):
    def __init__(self, status_code: int, detail: str):
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail


class CommandError(Exception):
    """A command could not do its work, for a reason the person running it can act on."""
