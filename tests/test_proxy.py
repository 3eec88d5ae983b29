"""Behind a trusted reverse proxy, each family member is counted at their own address."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.auth import MAX_FAILURES_PER_ADDRESS
from app.config import Settings
from app.migrate import upgrade
from tests.processes import running_server

pytestmark = pytest.mark.slow


def _fail_logins(base: str, address: str, count: int) -> list[int]:
    codes = []
    for attempt in range(count):
        # A different account each time: only the per-address limit is in play.
        response = httpx.post(
            f"{base}/api/auth/login",
            json={"email": f"nobody{attempt}@example.com", "password": "wrong password"},
            headers={"X-Forwarded-For": address},
            timeout=10,
        )
        codes.append(response.status_code)
    return codes


@pytest.mark.parametrize("trusted", [True, False])
def test_throttling_counts_the_forwarded_address_only_from_a_trusted_proxy(
    tmp_path: Path, trusted: bool
) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_key="proxy-" + "p" * 26)
    settings.ensure_dirs()
    upgrade(settings.sqlalchemy_url)
    allowed = "127.0.0.1" if trusted else "192.0.2.1"
    with running_server(settings, "--no-worker", VIVANT_FORWARDED_ALLOW_IPS=allowed) as (_, base):
        first = _fail_logins(base, "198.51.100.7", MAX_FAILURES_PER_ADDRESS + 1)
        assert first[:MAX_FAILURES_PER_ADDRESS] == [401] * MAX_FAILURES_PER_ADDRESS
        assert first[-1] == 429
        # Another member behind the same proxy: a fresh count when the proxy is trusted, the same
        # (exhausted) count when its header is ignored and everyone is the proxy.
        assert _fail_logins(base, "198.51.100.8", 1) == ([401] if trusted else [429])
