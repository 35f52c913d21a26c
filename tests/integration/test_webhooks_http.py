"""Webhooks over real HTTP: signed messages are stored before the 200, everything else gets a 4xx
with a reason, and a refused request never disturbs the good ones."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.webshop import WebhookHealth, webhook_router
from adapters.webshop.receiver import webhook_secrets
from adapters.webshop.signatures import sign
from entrypoints.api import create_app
from entrypoints.server_thread import ServerThread
from hub.accounting import Accounting
from hub.bootstrap import Hub
from tests.conftest import TEST_SECRETS
from tests.shop_messages import fixture


@pytest.fixture
def client(make_hub) -> Iterator[tuple[Hub, httpx.Client]]:
    hub = make_hub(max_body_bytes=64 * 1024)
    health = WebhookHealth(hub.ports, TEST_SECRETS)
    app = create_app(hub, [webhook_router(hub.ports, TEST_SECRETS, health=health)], [health.report])
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        yield hub, http


def shopify_post(
    http: httpx.Client, body: bytes, topic: str = "orders/create", **headers: str
) -> httpx.Response:
    sent = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(TEST_SECRETS["shopify"], body),
    }
    sent.update(headers)
    return http.post("/webhooks/shopify", content=body, headers=sent)


def test_signed_shopify_webhook_is_stored_then_acknowledged(client) -> None:
    hub, http = client
    body = json.dumps(fixture("order")).encode()
    response = shopify_post(http, body)
    assert response.status_code == 200 and response.json() == {"status": "stored"}
    (message,) = hub.inbox.after(0, 10)
    assert message.message_id == "orders/create:450789469"
    assert message.envelope["headers"]["x-shopify-topic"] == "orders/create"
    assert "x-shopify-hmac-sha256" not in message.envelope["headers"]
    assert shopify_post(http, body).json() == {"status": "duplicate"}
    hub.process()
    assert http.get("/orders/%231001").json()["stage"] == "placed"


def test_a_captured_body_sent_under_another_topic_changes_nothing_and_is_flagged(client) -> None:
    """Shopify signs the body, not the topic header: a captured orders/create body replayed as
    orders/paid marked the order paid (the body says financial_status pending), then as
    orders/cancelled cancelled it. The body must bear out its topic; the forged copies are dead
    letters naming why, and they do not take the genuine messages' ids."""
    hub, http = client
    placed = {**fixture("order"), "financial_status": "pending"}
    body = json.dumps(placed).encode()
    assert shopify_post(http, body).json() == {"status": "stored"}
    assert shopify_post(http, body, topic="orders/paid").json() == {"status": "stored"}
    assert shopify_post(http, body, topic="orders/cancelled").json() == {"status": "stored"}
    hub.process()
    order = http.get("/orders/%231001").json()
    assert order["stage"] == "placed" and not order.get("cancelled_at")
    reasons = {letter["mapping"]: letter["reason"] for letter in http.get("/deadletters").json()}
    assert "has financial_status paid" in reasons["shopify.orders_paid@2"]
    assert 'value "pending"' in reasons["shopify.orders_paid@2"]
    assert "an order cancelled has cancelled_at" in reasons["shopify.orders_cancelled@2"]
    # the genuine messages still come through: the forged copies did not take their ids
    paid = {**placed, "financial_status": "paid"}
    assert shopify_post(http, json.dumps(paid).encode(), topic="orders/paid").json() == {"status": "stored"}
    hub.process()
    assert http.get("/orders/%231001").json()["stage"] == "paid"


def test_a_message_without_an_id_is_never_the_duplicate_of_another(client) -> None:
    """Without an id, a message is known by a hash of its headers and body: the same body under
    another topic is another message (a hash of the body alone answered "duplicate" and lost
    it); the same message sent again is still a duplicate."""
    hub, http = client
    order = fixture("order")
    del order["id"]
    body = json.dumps(order).encode()
    assert shopify_post(http, body).json() == {"status": "stored"}
    assert shopify_post(http, body, topic="orders/paid").json() == {"status": "stored"}
    assert shopify_post(http, json.dumps({**order, "name": "#1002"}).encode()).json() == {"status": "stored"}
    assert shopify_post(http, body, topic="orders/paid").json() == {"status": "duplicate"}
    stored = hub.inbox.after(0, 10)
    assert len(stored) == 3 and all(m.message_id.startswith("sha256:") for m in stored)


@pytest.mark.parametrize(
    ("body", "headers", "status", "error"),
    [
        (b'{"id": 1}', {"X-Shopify-Hmac-Sha256": "AAAA"}, 401, "bad_signature"),
        (b'{"id": 1}', {"X-Shopify-Hmac-Sha256": ""}, 401, "bad_signature"),
        (b'{"id": 1,', {}, 400, "malformed_json"),
        (b"[1, 2]", {}, 422, "not_an_object"),
        (b'{"id": 1}', {"Content-Type": "text/plain"}, 415, "wrong_content_type"),
        (b'{"x": "' + b"y" * 70_000 + b'"}', {}, 413, "too_large"),
        (b"[" * 20_000 + b"]" * 20_000, {}, 422, "too_deep"),
        (b'{"a": ' * 100 + b"1" + b"}" * 100, {}, 422, "too_deep"),
        (b'{"id": ' + b"9" * 5000 + b"}", {}, 422, "number_too_long"),
        (b'{"id": 1e400}', {}, 422, "number_too_long"),
        (b'{"id": NaN}', {}, 400, "malformed_json"),
        (b'{"id": 1, "name": "\\ud800x"}', {}, 422, "invalid_unicode"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(
    client, body: bytes, headers: dict, status: int, error: str
) -> None:
    hub, http = client
    response = shopify_post(http, body, **headers)
    assert response.status_code == status
    assert response.json()["error"] == error and response.json()["reason"]
    assert hub.inbox.head() == 0
    metrics = http.get("/metrics").text
    assert f'hub_webhooks_rejected_total{{reason="{error}",system="shopify"}} 1.0' in metrics


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        st.binary(max_size=300),
        _JSON.map(lambda value: json.dumps(value).encode()),
        st.dictionaries(st.sampled_from(["id", "name", "total_price", "line_items"]), _JSON).map(
            lambda value: json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
        ),
    ),
    topic=st.sampled_from(["orders/create", "orders/paid", "refunds/create", "", "x" * 300]),
)
def test_any_signed_body_is_refused_with_a_reason_or_stored_never_a_server_error(
    client, body: bytes, topic: str
) -> None:
    hub, http = client
    before = hub.inbox.count_after(0)  # PostgreSQL's positions have gaps: count the messages
    response = shopify_post(http, body, topic=topic)
    assert response.status_code < 500, response.text
    if response.status_code == 200:
        assert response.json()["status"] in ("stored", "duplicate", "ping acknowledged")
        assert response.json()["status"] == "duplicate" or hub.inbox.count_after(0) == before + 1
    else:
        assert response.json()["reason"] and hub.inbox.count_after(0) == before
    report = hub.process()  # whatever was stored is applied or dead-lettered, with a reason
    assert report.processed + report.dead_lettered == report.messages
    assert all(letter.reason for letter in hub.dead_letters.list())


def test_two_different_messages_without_an_id_are_both_stored(client) -> None:
    """A message id derived from a missing field ("orders/create:null") made the second of two
    different id-less orders a "duplicate", lost with a 200; the content decides instead."""
    hub, http = client
    first = json.dumps({**fixture("order"), "id": None, "name": "#A"}).encode()
    second = json.dumps({**fixture("order"), "id": None, "name": "#B"}).encode()
    assert [shopify_post(http, body).json()["status"] for body in (first, second, first)] == [
        "stored",
        "stored",
        "duplicate",
    ]
    assert hub.inbox.count_after(0) == 2


def test_unknown_system_is_404(client) -> None:
    _, http = client
    response = http.post("/webhooks/magento", content=b"{}", headers={"Content-Type": "application/json"})
    assert response.status_code == 404 and "magento" in response.json()["reason"]


def test_woocommerce_signature_and_ping(client) -> None:
    hub, http = client
    body = json.dumps(
        {
            "id": 727,
            "number": "727",
            "status": "pending",
            "currency": "EUR",
            "total": "12.00",
            "date_created_gmt": "2026-01-01T10:00:00",
            "customer_id": 0,
            "created_via": "checkout",
            "line_items": [{"sku": "A", "name": "A", "product_id": 1, "quantity": 1, "price": 12}],
            "billing": {"email": "x@example.org"},
        }
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Signature": sign(TEST_SECRETS["woocommerce"], body),
    }
    assert http.post("/webhooks/woocommerce", content=body, headers=headers).status_code == 200
    ping = b"webhook_id=12"
    ping_headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-WC-Webhook-Signature": sign(TEST_SECRETS["woocommerce"], ping),
    }
    assert http.post("/webhooks/woocommerce", content=ping, headers=ping_headers).status_code == 200
    hub.process()
    assert http.get("/orders/727").json()["total_amount"] == "12.00"


def test_unknown_topic_is_accepted_and_dead_lettered_not_lost(client) -> None:
    hub, http = client
    assert shopify_post(http, b'{"id": 632910392}', topic="products/update").status_code == 200
    hub.process()
    (letter,) = http.get("/deadletters").json()
    assert letter["stage"] == "mapping" and "products/update" in letter["reason"]


def test_health_and_metrics_endpoints(client) -> None:
    hub, http = client
    shopify_post(http, json.dumps(fixture("order")).encode())
    hub.process()
    health = http.get("/health").json()
    assert health["status"] == "ok" and health["inbox_backlog"] == 0
    assert health["projections"][0]["lag"] == 0
    metrics = http.get("/metrics").text
    assert 'hub_messages_received_total{outcome="stored",system="shopify"} 1.0' in metrics
    assert 'hub_messages_processed_total{system="shopify",type="shopify.orders_create"} 1.0' in metrics
    assert 'hub_projection_lag_events{projection="order_tracking"} 0.0' in metrics
    assert 'hub_orders{stage="placed"} 1.0' in metrics


def test_health_reports_each_webhook_adapter(client) -> None:
    _, http = client
    shopify_post(http, json.dumps(fixture("order")).encode())
    shopify_post(http, b"{}", **{"X-Shopify-Hmac-Sha256": "forged"})
    adapters = {a["name"]: a for a in http.get("/health").json()["adapters"]}
    shopify = adapters["webhooks:shopify"]
    assert shopify["status"] == "ok" and shopify["last_stored_at"]
    assert shopify["last_refusal"]["code"] == "bad_signature"
    assert adapters["webhooks:woocommerce"]["last_stored_at"] is None


def test_health_is_degraded_when_a_webhook_secret_is_missing(make_hub) -> None:
    hub = make_hub()
    health = WebhookHealth(hub.ports, {"shopify": "set", "carrier": "set"})  # woocommerce's secret is missing
    with ServerThread(create_app(hub, [], [health.report])) as server:
        report = httpx.get(f"{server.url}/health").json()
    assert report["status"] == "degraded" and report["troubled"] == ["webhooks:woocommerce"]
    woo = next(a for a in report["adapters"] if a["name"] == "webhooks:woocommerce")
    assert woo["status"] == "down" and "WOOCOMMERCE_WEBHOOK_SECRET" in woo["detail"]


def carrier_post(http: httpx.Client, event: str, tracking: str, status: str, at: str) -> httpx.Response:
    body = json.dumps(
        {
            "id": f"evt_{tracking}_{status}",
            "object": "Event",
            "description": "tracker.updated",
            "result": {
                "object": "Tracker",
                "tracking_code": tracking,
                "carrier": "UPS",
                "status": status,
                "status_detail": status,
                "updated_at": at,
            },
        }
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Carrier-Event": event,
        "X-Carrier-Signature": sign(TEST_SECRETS["carrier"], body),
    }
    return http.post("/webhooks/carrier", content=body, headers=headers)


def test_carrier_tracking_events_move_the_shipment_the_shop_recorded(client) -> None:
    """The carrier's events name only the tracking number; they update the shop's shipment, in
    order, and an event that arrives before the shop reported the parcel waits for it."""
    hub, http = client
    order = fixture("order")
    parcel = fixture("fulfillment")
    parcel["line_items"] = order["line_items"]  # everything in one parcel
    early = carrier_post(http, "tracker.updated", "1Z2345", "in_transit", "2026-11-20T08:00:00Z")
    assert early.json() == {"status": "stored"}
    hub.process()
    assert hub.parked.count() == 1  # no parcel 1Z2345 yet

    shopify_post(http, json.dumps(order).encode())
    shopify_post(http, json.dumps(parcel).encode(), topic="fulfillments/create")
    hub.process()
    assert hub.parked.count() == 0
    for status, at in [
        ("out_for_delivery", "09:00"),
        ("available_for_pickup", "12:00"),
        ("delivered", "15:30"),
    ]:
        carrier_post(http, "tracker.updated", "1Z2345", status, f"2026-11-20T{at}:00Z")
        hub.process()
        tracked = http.get("/orders/%231001").json()
        [shipment] = tracked["shipments"]
        assert shipment["shipment_id"] == str(parcel["id"])  # the shop's shipment, not a second one
    assert (shipment["status"], tracked["stage"]) == ("delivered", "delivered")
    assert tracked["delivered_at"] == "2026-11-20T15:30:00+00:00"
    bad = carrier_post(http, "tracker.updated", "1Z2345", "delivered", "2026-11-20T15:30:00Z")
    assert bad.json() == {"status": "duplicate"}
    forged = http.post(
        "/webhooks/carrier",
        content=b'{"id": "evt_x"}',
        headers={"Content-Type": "application/json", "X-Carrier-Signature": "AAAA"},
    )
    assert forged.status_code == 401 and forged.json()["error"] == "bad_signature"


def test_reads_refuse_filters_they_do_not_know(client) -> None:
    """An unknown filter name or value is a 422 naming what the route takes, not a quietly
    empty (or unfiltered) answer; webhooks are not affected."""
    hub, http = client
    assert shopify_post(http, b'{"id": 5}', topic="products/update").status_code == 200  # a dead letter
    assert shopify_post(http, json.dumps(fixture("order")).encode(), **{"X-Extra": "1"}).status_code == 200
    hub.process()
    assert len(http.get("/deadletters", params={"status": "all"}).json()) == 1
    assert http.get("/deadletters", params={"status": "resolved"}).json() == []
    for path, params, named in [
        ("/deadletters", {"status": "everything"}, "open, resolved, all"),
        ("/orders", {"stage": "shipping"}, "placed, partially_paid"),
        ("/orders", {"stge": "paid"}, "the route takes: limit, stage"),
        ("/plan/buffers", {"status": "purple"}, "red"),
    ]:
        answer = http.get(path, params=params)
        assert answer.status_code == 422 and named in answer.json()["detail"], (path, answer.text)
    assert http.get("/orders", params={"stage": "placed"}).status_code == 200


def test_fifty_concurrent_clients_are_all_answered_and_each_order_is_stored_once(client) -> None:
    """A shop's burst: requests share inbox commits (group commit), every one is answered 200
    after its commit, each order is in the inbox exactly once, and a resend is a duplicate even
    when it arrives in the same commit as the original."""
    import threading

    hub, http = client
    orders = [{**fixture("order"), "id": 900_000 + i, "name": f"#B{i}"} for i in range(200)]
    bodies = [json.dumps(o).encode() for o in orders]
    bodies += bodies[:20]  # resent while the burst is on
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def client_thread(mine: list[bytes]) -> None:
        with httpx.Client(base_url=str(http.base_url), timeout=30) as own:
            for body in mine:
                response = shopify_post(own, body)
                with lock:
                    answers.append((response.status_code, response.json().get("status", "")))

    threads = [threading.Thread(target=client_thread, args=(bodies[i::50],)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == len(bodies)
    assert {status for status, _ in answers} == {200}
    assert sum(1 for _, outcome in answers if outcome == "stored") == 200
    assert sum(1 for _, outcome in answers if outcome == "duplicate") == 20
    stored = hub.inbox.after(0, 1000)
    assert len(stored) == 200 and len({m.message_id for m in stored}) == 200
    # What the senders saw is what the hub's accounting says.
    hub.process()
    [shop] = Accounting(hub.store).report().systems
    assert (shop.received, shop.stored, shop.duplicates, shop.applied) == (220, 200, 20, 200)


def test_a_placeholder_secret_refuses_the_systems_webhooks(
    make_hub, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The deployment templates once fell back to ``change-me``: anyone who read them could
    sign webhooks. A placeholder counts as no secret at all."""
    hub = make_hub()
    monkeypatch.setenv("SHOPIFY_WEBHOOK_SECRET", "change-me")
    monkeypatch.setenv("WOOCOMMERCE_WEBHOOK_SECRET", "a-real-secret-0f9e8d7c")
    secrets = webhook_secrets(hub.ports)
    assert "shopify" not in secrets and secrets["woocommerce"] == "a-real-secret-0f9e8d7c"
    assert "SHOPIFY_WEBHOOK_SECRET holds a placeholder" in caplog.text
    app = create_app(hub, [webhook_router(hub.ports, secrets)])
    body = b'{"id": 1}'
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        answer = http.post(
            "/webhooks/shopify",
            content=body,
            headers={"Content-Type": "application/json", "X-Shopify-Hmac-Sha256": sign("change-me", body)},
        )
    assert answer.status_code == 503 and answer.json()["error"] == "no_secret"
    assert "placeholder" in answer.json()["reason"] and hub.inbox.after(0, 10) == []
