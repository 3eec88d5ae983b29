"""Served on localhost with no public address, the pages that hand out links say they work only here."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.conftest import set_up_admin, upload
from tests.fixture_paths import FIXTURES

WARNING = "work only on this computer"


@pytest.mark.parametrize(
    ("base_url", "public_url", "warned"),
    [
        ("http://127.0.0.1:8000", "", True),
        ("http://localhost:8000", "", True),
        ("http://[::1]:8000", "", True),
        ("http://192.168.1.20:8000", "", False),  # served on the network: its links work there
        ("http://127.0.0.1:8000", "http://192.168.1.20:8000", False),  # links use the public address
    ],
)
def test_links_made_on_localhost_are_said_to_work_only_here(
    settings: Settings, base_url: str, public_url: str, warned: bool
) -> None:
    app = create_app(settings.model_copy(update={"public_url": public_url}), reconcile=False)
    with TestClient(app, base_url=base_url) as client:
        csrf = set_up_admin(client)
        photo_id = upload(client, csrf, FIXTURES / "photos" / "hopper.jpg").json()[0]["id"]
        for page in (f"/photos/{photo_id}", "/family"):
            html = client.get(page).text
            assert (WARNING in html) is warned, page
            if warned:
                assert "--host 0.0.0.0" in html and "VIVANT_PUBLIC_URL" in html
