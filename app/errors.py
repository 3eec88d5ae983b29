"""The one kind of expected failure the service modules raise; the app answers it as `{"detail": ...}`."""

from __future__ import annotations


class ServiceError(Exception):
    def __init__(self, status_code: int, detail: str):
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
