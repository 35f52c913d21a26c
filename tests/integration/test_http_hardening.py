"""The HTTP API against requests a browser page or an attacker would send (issue 22)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx

from adapters.files import take_file
from entrypoints.api import create_app
from entrypoints.server_thread import ServerThread
from hub.bootstrap import Hub


def test_a_host_not_allowed_is_refused_so_dns_rebinding_reads_nothing(make_hub: Callable[..., Hub]) -> None:
    """A page that makes attacker.example resolve to 127.0.0.1 reaches the port, but its
    requests name attacker.example: refused before any route runs. Probes and scrapers that
    address the process by its IP still read /health and /metrics."""
    hub = make_hub(http_allowed_hosts=["localhost", "127.0.0.1", "*.example.com"])
    with ServerThread(create_app(hub)) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.get("/orders").status_code == 200  # Host: 127.0.0.1:PORT
        assert http.get("/orders", headers={"Host": "localhost"}).status_code == 200
        assert http.get("/orders", headers={"Host": "hub.example.com:8080"}).status_code == 200
        for foreign in ("attacker.example", "attacker.example:8080", "example.com.attacker.example", ""):
            refused = http.get("/orders", headers={"Host": foreign})
            assert refused.status_code == 400, foreign
            assert http.get("/customers", params={"q": "anna"}, headers={"Host": foreign}).status_code == 400
        assert http.get("/health", headers={"Host": "10.1.2.3:8080"}).status_code in (200, 503)
        assert http.get("/metrics", headers={"Host": "10.1.2.3:8080"}).status_code == 200


def test_a_nul_character_in_a_parameter_is_a_wrong_request_not_a_database_failure(
    make_hub: Callable[..., Hub],
) -> None:
    """PostgreSQL refuses NUL in text: a fuzzed ``system`` answered 503 "database failed"."""
    hub = make_hub()
    with ServerThread(create_app(hub)) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        refused = http.get("/audit/history", params={"raw": "true", "entity": "", "system": "a\x00b"})
        assert refused.status_code == 422 and "query parameter system holds a NUL" in refused.text
        assert http.get("/orders/%23A%001").status_code == 422
        assert http.get("/orders", params={"stage": "placed"}).status_code == 200


def test_no_dead_letter_shown_over_http_holds_a_server_path(
    make_hub: Callable[..., Hub], tmp_path: Path
) -> None:
    """Unreadable lines of a file and a broken EDI interchange are kept as dead letters naming
    the file by its name: their folder is the server's business."""
    hub = make_hub()
    folder = tmp_path / "srv" / "drop" / "shopify"
    folder.mkdir(parents=True)
    (folder / "orders.jsonl").write_text('{"id": 1, "line_items": []}\n{not json\n[1, 2]\n')
    (folder / "orders.csv").write_text("id,total\n1,2,3\n")
    (folder / "partner.edi").write_text("ISA*00*broken~")
    for name in ("orders.jsonl", "orders.csv", "partner.edi"):
        take_file(hub.ports, hub.receive, "shopify", folder / name)
    hub.receive("shopify", [{"headers": {"x-shopify-topic": "products/update"}, "body": {"id": 5}}])
    hub.process()
    with ServerThread(create_app(hub)) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        answer = http.get("/deadletters")
    reasons = [letter["reason"] for letter in answer.json()]
    assert len(reasons) >= 4 and any("orders.jsonl:2" in r for r in reasons)
    assert any("partner.edi" in r for r in reasons) and any("orders.csv:2" in r for r in reasons)
    assert any("no mapping in shopify/ matches" in r for r in reasons)  # an unknown topic
    for server_path in (str(tmp_path), "/srv/drop", str(hub.settings.mappings_dir)):
        assert server_path not in answer.text


def test_the_api_documentation_loads_nothing_from_another_site(make_hub: Callable[..., Hub]) -> None:
    """FastAPI's /docs fetched Swagger UI from a CDN: blank offline, and a third party's script
    beside the API's data. Now its assets come from this process; ReDoc, which has no package,
    is not offered."""
    hub = make_hub()
    with ServerThread(create_app(hub)) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        page = http.get("/docs")
        assert page.status_code == 200 and "/docs/assets/swagger-ui-bundle.js" in page.text
        assert not re.findall(r"""(?:src|href)=["']https?://""", page.text)
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
            assert http.get(f"/docs/assets/{asset}").status_code == 200, asset
        assert http.get("/redoc").status_code == 404
        assert http.get("/docs/assets/index.html").status_code == 404  # the package's demo page: not served
        assert http.get("/openapi.json").json()["info"]["title"] == "Integration hub"


def test_every_answer_carries_the_security_headers_and_a_long_target_is_refused(
    make_hub: Callable[..., Hub],
) -> None:
    hub = make_hub()
    app = create_app(hub)

    def broken() -> None:
        raise RuntimeError("a defect")

    app.add_api_route("/broken", broken)
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        answers = {
            "orders": http.get("/orders"),
            "not found": http.get("/orders/%23NOPE"),
            "foreign host": http.get("/orders", headers={"Host": "attacker.example"}),
            "too long": http.get("/customers", params={"q": "s" * 20_000}),
            "docs": http.get("/docs"),
        }
        # the server closes a connection whose request failed: the 500 on a connection of its own
        answers["server error"] = httpx.get(f"{server.url}/broken", timeout=10)
        assert [a.status_code for a in answers.values()] == [200, 404, 400, 414, 200, 500]
        assert "a defect" not in answers["server error"].text
        for name, answer in answers.items():
            assert answer.headers["x-content-type-options"] == "nosniff", name
            assert answer.headers["x-frame-options"] == "DENY", name
            assert answer.headers["referrer-policy"] == "no-referrer", name
            policy = answer.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in policy and ("script-src 'self'" in policy) == (name == "docs")
        assert answers["too long"].json()["error"] == "uri_too_long"
        assert (
            "access-control-allow-origin"
            not in http.get("/orders", headers={"Origin": "https://attacker.example"}).headers
        )
        assert http.get("/orders").status_code == 200  # still serving


def test_a_client_searching_too_often_is_told_to_wait_while_others_are_served(
    make_hub: Callable[..., Hub],
) -> None:
    """A search costs far more than a lookup: one client may make http_searches_per_minute."""
    hub = make_hub(http_searches_per_minute=3)
    with ServerThread(create_app(hub)) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        assert [http.get("/customers", params={"q": "anna"}).status_code for _ in range(3)] == [200] * 3
        refused = http.get("/customers", params={"q": "anna"})
        assert refused.status_code == 429 and "more than 3 search requests a minute" in refused.text
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert http.get("/orders").status_code == 200  # only searching waits
