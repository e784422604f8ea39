"""Property-based fuzzing of every operation in /openapi.json: no input makes the API fail (5xx),
and every error has the cloud's error body. Requests are signed, so the fuzzing reaches the routes.

Schemathesis' pytest plugin does not load under this pytest, so each operation's hypothesis
strategy is driven here directly.
"""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from tests.api.conftest import Project
from tests.api.sdk import SignedAuth

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 40


def operations(api_url: str) -> list:
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def test_no_input_makes_the_api_fail(api_url: str, project: Project) -> None:
    session = requests.Session()
    session.auth = SignedAuth(project.client.access_key, project.client.secret_key)
    found = operations(api_url)
    # create, register, list, delete, associate, disassociate, associations, health
    assert len(found) == 8

    for operation in found:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case) -> None:
            if case.path_parameters and "project_id" in case.path_parameters:
                # Mostly the caller's own project, to reach past the 403 of foreign projects.
                case.path_parameters["project_id"] = project.id
            response = case.call(base_url=api_url, session=session)
            assert response.status_code < 500, (case.method, case.formatted_path, response.text)
            if response.status_code >= 400:
                error = response.json()["error"]
                assert set(error) == {"code", "message"}
                assert error["message"]

        no_server_error()
