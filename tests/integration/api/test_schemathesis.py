"""schemathesis against the app's own OpenAPI document over real HTTP: no input may cause a 5xx.

Every operation gets a small number of generated requests, valid (positive) and invalid (negative), sent with no
key, a customer's key or the admin key, and with the path's customer id either generated or a real customer's,
so the requests reach the query, status and Airflow code paths and not only the 404/422 guards.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from tests.integration.api.conftest import ApiEnv

EXAMPLES_PER_OPERATION = 8


def test_no_input_causes_a_server_error(api_env: ApiEnv) -> None:
    schema = schemathesis.openapi.from_url(f"{api_env.base_url}/openapi.json")
    keys = [None, api_env.key("acme"), api_env.keys.admin, "trk_deadbeef_wrong"]
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the app's OpenAPI document has an invalid operation: {result}"
        operations.append(result.ok())
    assert len(operations) >= 11
    failures: list[str] = []
    calls = 0
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode), key=st.sampled_from(keys), real=st.booleans())
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def check(case: schemathesis.Case, key: str | None, real: bool) -> None:
                nonlocal calls
                params = case.path_parameters or {}
                if real and "customer_id" in params and case.method.upper() != "DELETE":
                    params["customer_id"] = "acme"
                headers = {k: v for k, v in (case.headers or {}).items() if k.lower() not in ("x-api-key",)}
                if key is not None:
                    headers["X-API-Key"] = key
                response = case.call(base_url=api_env.base_url, headers=headers, timeout=30)
                calls += 1
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text}")

            try:
                check()
            except Unsatisfiable:
                # nothing to make invalid (an operation without parameters or body): positive cases cover it
                assert mode == GenerationMode.NEGATIVE, operation.label
    assert calls >= len(operations) * 2
    assert not failures, "\n".join(failures[:10])
    print(f"schemathesis: {calls} requests over {len(operations)} operations")
