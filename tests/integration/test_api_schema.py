"""Given the hub's HTTP API and its own OpenAPI schema, when schemathesis sends requests the schema
allows and requests it forbids (wrong types, missing and unknown parameters, any text), then no
answer is a server error - on a hub holding orders, customers, dead letters and plan data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error

from adapters.webshop import WebhookHealth, webhook_router
from entrypoints.api import create_app
from hub.bootstrap import Hub
from tests.shop_messages import envelope, fulfillment, order, paid

SECRETS = {"shopify": "s3cret"}


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda m: m.value)
def test_no_request_the_schema_allows_or_forbids_is_answered_with_a_server_error(
    make_hub: Callable[..., Hub], mode: schemathesis.GenerationMode
) -> None:
    hub = make_hub(http_allowed_hosts=["testserver"])  # the host the in-process client names
    hub.receive(
        "shopify",
        [order(1), paid(1), fulfillment(1), order(2), paid(3), envelope("products/update", {"id": 5})],
    )
    hub.process()
    health = WebhookHealth(hub.ports, SECRETS)
    app = create_app(hub, [webhook_router(hub.ports, SECRETS, health=health)], [health.report])
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case: Any) -> None:
            response = case.call_and_validate(checks=[not_a_server_error])
            assert response.text != "Invalid host header"  # the routes were reached

        try:
            call()
        except Unsatisfiable:  # negative mode: nothing the schema forbids (no parameters to break)
            continue
        except Exception as error:  # every operation is tried; all failures are reported together
            failures.append(f"{operation.label}: {error}")
    assert not failures, "\n\n".join(failures)
