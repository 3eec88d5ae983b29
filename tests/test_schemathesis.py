"""Property-based fuzzing of the JSON API from its own /openapi.json (Schemathesis), signed in, in-process.

For every operation, valid and invalid inputs: no 5xx, and every answer matches the documented schema
and content type. The number of examples is bounded so the whole run stays under a minute.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.migrate import upgrade
from app.storage import MediaStore
from tests.conftest import set_up_admin, upload
from tests.fixture_paths import FIXTURES
from worker.tasks import ClipRun

EXAMPLES_PER_OPERATION = 12
# Signing out would end the session every other case rides on; the access tests cover it.
SKIPPED = {("POST", "/api/auth/logout")}


@pytest.mark.slow
def test_api_answers_every_generated_request_within_its_schema(tmp_path: Path) -> None:
    config = Settings(
        data_dir=tmp_path / "data",
        secret_key="fuzz-secret-" + "f" * 20,
        default_seconds=1.0,
        clip_long_side=128,
    )
    config.ensure_dirs()
    upgrade(config.sqlalchemy_url)
    app = create_app(config, reconcile=False)
    with TestClient(app) as client:
        csrf = set_up_admin(client)
        # Something to find: a photo with a ready clip, so ids in the data lead somewhere.
        clip_id = upload(client, csrf, FIXTURES / "photos" / "hopper.jpg").json()[0]["clip_id"]
        database = Database(config.sqlalchemy_url)
        assert ClipRun(database, config, clip_id).run(MediaStore(config.media_dir)) == "ready"
        database.dispose()
        headers = {"X-CSRF-Token": csrf}
        cookies = {"vivant_session": client.cookies["vivant_session"]}

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue

        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            nonlocal calls
            response = case.call(headers=headers, cookies=cookies)
            calls += 1
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:300]}"
            case.validate_response(
                response, checks=[response_schema_conformance, content_type_conformance], headers=headers
            )

        @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION // 2,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check_invalid(case: schemathesis.Case) -> None:
            nonlocal calls
            response = case.call(headers=headers, cookies=cookies)
            calls += 1
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:300]}"

        for run in (check, check_invalid):
            try:
                run()
            except Unsatisfiable:
                pass  # an operation without inputs has no invalid form
            except (AssertionError, FailureGroup) as exc:  # every operation's failure, not only the first
                failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert calls > 100
    assert failures == [], "\n\n".join(failures)
