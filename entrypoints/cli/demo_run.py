"""``hub demo``: simulated shops and a feedback export through a real hub, then the results.

Webhooks travel over real HTTP to the hub's own endpoint (signed as the platforms sign them);
the feedback export goes through the file adapter. Everything lands in the database that
``HUB_DATABASE_URL`` names, so every other command can query the demo afterwards.
"""

from __future__ import annotations

import csv
import json
import os
import random
import secrets as secret_tokens
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.progress import Progress
from rich.table import Table

from adapters.filedrop import FileDrop
from adapters.files import read_messages, take_file
from adapters.soap import outbound_syncers, planned_pushers, soap_pollers
from adapters.webshop import SIGNATURE_CHECKS, webhook_router
from adapters.webshop.signatures import sign
from aggregates import STAGES, customer_id
from entrypoints.api import create_app
from entrypoints.background import BackgroundProcessor
from entrypoints.cli.audit import print_history
from entrypoints.cli.context import console, fail
from entrypoints.cli.plan import print_buffers, print_schedule
from entrypoints.cli.server import serve
from entrypoints.server_thread import ServerThread
from entrypoints.settings import Settings
from hub.audit.verify import verify
from hub.bootstrap import Hub, bootstrap
from hub.planning.chart import render_chart
from hub.settings import HubSettings, SystemConfig
from hub.store import DatabaseUrlError, parse_database_url
from projections.customer_value import display_name
from simulators import Traffic, Webhook, simulate
from simulators.callcentre import write_call_centre_files
from simulators.crm import WSDL as CRM_WSDL
from simulators.crm import CrmSimulator, crm_system
from simulators.crm.seed import CrmPerson, log_work, person_of, seed_contacts
from simulators.erp import ErpSimulator, erp_system
from simulators.erp.backoffice import seed_erp, work_through
from simulators.people import population
from simulators.planning import drop_planning_files
from simulators.traffic import carrier_events
from simulators.warehouse import drop_warehouse_files

__all__ = ["run_demo"]

DEMO_SYSTEMS = {
    "shopify": SystemConfig(adapter="shopify", secret_env="SHOPIFY_WEBHOOK_SECRET"),
    "woocommerce": SystemConfig(
        adapter="woocommerce",
        secret_env="WOOCOMMERCE_WEBHOOK_SECRET",
        timezone="Europe/Berlin",
        phone_region="DE",
    ),
    "feedback": SystemConfig(adapter="file", timezone="Europe/Berlin"),
    "carrier": SystemConfig(adapter="carrier", secret_env="CARRIER_WEBHOOK_SECRET"),
    "wms": SystemConfig(adapter="file", timezone="Europe/Berlin"),
    "planning": SystemConfig(adapter="file", timezone="Europe/Berlin"),
    "edi": SystemConfig(adapter="file"),
    "callcentre": SystemConfig(adapter="file", timezone="Europe/Berlin", phone_region="DE"),
}


def run_demo(
    settings: HubSettings, *, orders: int, serve_after: bool, seed: int, chart: Path, fresh: bool = False
) -> None:
    """Feed simulated shop traffic through the hub and show what a user sees.

    The scenario runs once per database: its simulated ERP and CRM start empty every time, so a
    second run on the same log would create the ERP's orders again and repeat every shipment.
    On a database an earlier run filled it shows what is there, or (``--fresh``) starts over."""
    try:
        hub = bootstrap(settings)
    except DatabaseUrlError as error:
        fail(f"HUB_DATABASE_URL {error}")
    if hub.store.head() and not fresh:
        _earlier_run(hub)
        return
    if hub.store.head():
        hub.close()
        _set_aside(settings)
    else:
        hub.close()
    erp = ErpSimulator().start()  # the legacy ERP, a SOAP server on a loopback port
    crm = CrmSimulator().start()  # the front office's CRM: Salesforce's Enterprise API
    os.environ.setdefault("CRM_USERNAME", crm.username)  # the simulator's own demo login
    os.environ.setdefault("CRM_PASSWORD", crm.password)
    hub = bootstrap(_demo_settings(settings, erp, crm))
    settings = hub.settings
    secrets = {name: secret_tokens.token_hex(16) for name in ("shopify", "woocommerce", "carrier")}
    console.print(f"[bold]Integration hub demo[/] — database {hub.store.target.display}")
    traffic = simulate(orders=orders, seed=seed)
    traffic.webhooks.extend(carrier_events(traffic))  # the carrier reports on parcels in transit
    background = BackgroundProcessor(hub, idle_seconds=0.2)
    app = create_app(hub, [webhook_router(hub.ports, secrets, on_stored=background.wake)])
    try:
        background.start()
        with ServerThread(app) as server:
            answers = _send(server.url, traffic, secrets, settings.max_body_bytes)
            _ingest_feedback(hub, traffic)
        background.stop()
        hub.process()
        _webhook_summary(answers)
        _erp_day(hub, erp, random.Random(seed))
        _warehouse(hub, random.Random(seed))
        _planning(hub, random.Random(seed), chart)
        _front_office(hub, crm, random.Random(seed))
        _customers(hub)
        _report(hub)
        if serve_after:
            console.print(f"\nserving on http://{settings.http_host}:{settings.http_port} (Ctrl-C to stop)")
            serve(hub, settings.http_host, settings.http_port)
    finally:
        hub.close()
        erp.stop()
        crm.stop()


def _earlier_run(hub: Hub) -> None:
    """What an earlier run left, shown as it is: nothing is sent, created or polled again."""
    try:
        console.print(f"[bold]Integration hub demo[/] — database {hub.store.target.display}", highlight=False)
        console.print(
            f"It already holds {hub.store.head():,} events of an earlier run: shown as it is, nothing is "
            "sent again.\n[bold]hub demo --fresh[/] starts over.",
            highlight=False,
        )
        _customers(hub)
        _report(hub)
    finally:
        hub.close()


def _set_aside(settings: HubSettings) -> None:
    """Start over: a SQLite file (and its key store beside it) is renamed, never deleted; a
    PostgreSQL database is the operator's to empty."""
    target = parse_database_url(settings.database_url)
    if target.dialect != "sqlite" or target.env["SQLITE_DBNAME"] == ":memory:":
        fail(
            f"--fresh starts over only with a SQLite file; empty {target.display} yourself "
            "or point HUB_DATABASE_URL elsewhere"
        )
    database = Path(target.env["SQLITE_DBNAME"])
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    files = [*database.parent.glob(database.name + "*"), *database.parent.glob(database.stem + ".keys.db*")]
    for path in files:  # the database, its WAL, its subject keys (their KEK file stays, for both)
        if not path.name.endswith(".bak"):
            path.rename(path.with_name(f"{path.name}.{stamp}.bak"))
    console.print(
        f"an earlier run's database is kept as {database}.{stamp}.bak; starting over", highlight=False
    )


def _demo_settings(settings: HubSettings, erp: ErpSimulator, crm: CrmSimulator) -> HubSettings:
    demo_erp = erp_system(erp.wsdl_url, page_size=25, backoff_seconds=0.05, poll_interval_seconds=5)
    demo_crm = crm_system(str(CRM_WSDL), crm.login_url, backoff_seconds=0.05, poll_interval_seconds=5)
    # The demo's ERP and CRM are always the simulators, whatever the configuration names so.
    systems = {**DEMO_SYSTEMS, **settings.systems, "erp": demo_erp, "crm": demo_crm}
    return Settings(**{**settings.model_dump(exclude_unset=True), "systems": systems})


def _front_office(hub: Hub, crm: CrmSimulator, rng: random.Random) -> None:
    """The CRM knows most of the shop's and the ERP's customers (typed its own way) and some
    prospects; the call centre takes calls and orders by phone from customers who also buy online."""
    console.print("\n[bold]CRM[/] (Salesforce Enterprise API, " + crm.login_url + ")", highlight=False)
    known = _known_people(hub)
    people = rng.sample(known, k=len(known) * 2 // 3) + [
        CrmPerson(e.given, e.family, e.email, None, f"{e.street} {e.number}", e.postcode, e.city)
        for e in population(12, random.Random(99), firms=0)
    ]
    contacts = seed_contacts(crm.book, people, rng, firms=["Nordlicht Handel GmbH", "Hanse Logistik AG"])
    logged = log_work(crm.book, contacts, rng)
    crm.fail_next("getUpdated")  # a busy org's proxy answers once with an error page
    for report in soap_pollers(hub.ports)["crm"].poll():
        retried = f", {report.retries} retry" if report.retries else ""
        console.print(
            f"  poll crm/{report.entity}: {report.records} records in {report.pages} batches{retried}"
            + (f" [red]{report.error}[/]" if report.error else ""),
            highlight=False,
        )
    hub.process()
    console.print(
        f"  contacts {len(contacts)} (of them {len(people) - 12} customers of the shops and the ERP), "
        f"calls {logged['calls']}, e-mails {logged['emails']}, visits {logged['visits']}, "
        f"cases {logged['cases']} ({logged['escalated']} escalated, {logged['closed']} closed)",
        highlight=False,
    )
    callers = [p for p in people if p.phone][:6]  # customers of the shops the CRM knows too
    with tempfile.TemporaryDirectory() as folder:
        files = write_call_centre_files(Path(folder), callers, rng, datetime.now())
        taken = [take_file(hub.ports, hub.receive, "callcentre", path) for path in files]
    hub.process()
    phone_orders = [o for o in hub.orders.list() if o["channel"] == "phone"]
    console.print(
        f"\n[bold]Call centre[/] {taken[0].messages} calls and {taken[1].messages} orders taken by phone "
        f"(channel phone: {len(phone_orders)} orders)",
        highlight=False,
    )
    for letter in hub.dead_letters.list("open"):
        if letter.system == "callcentre":
            console.print(f"  [yellow]dead letter[/] {letter.reason[:120]}", highlight=False)


def _known_people(hub: Hub) -> list[CrmPerson]:
    """People the shops and the ERP know, each once (by name and e-mail)."""
    rows = hub.store.query("SELECT record FROM hub_cust_members ORDER BY record")
    records = [r["record"].split(":", 1) for r in rows if r["record"].split(":", 1)[0] in ("shopify", "erp")]
    found = hub.store.replay([customer_id(system, ref) for system, ref in records])
    people: dict[tuple[str, str, str | None], CrmPerson] = {}
    for record in found.values():
        person = person_of(record.fields)
        if person is not None:
            people.setdefault((person.given, person.family, person.email), person)
    return list(people.values())


def _warehouse(hub: Hub, rng: random.Random) -> None:
    """The warehouse drops its stock count and goods receipts into the hub's drop folder."""
    with tempfile.TemporaryDirectory() as folder:
        drop = Path(folder)
        # This morning's 06:00 count: the same files on a second run the same day, as a WMS resends.
        counted = (datetime.now() - timedelta(hours=6)).replace(hour=6, minute=0, second=0, microsecond=0)
        drop_warehouse_files(drop, rng, counted)
        reports = FileDrop(hub.ports, "wms", drop, settle_seconds=0).scan()
        hub.process()
    console.print("\n[bold]Warehouse drop folder[/]")
    for report in reports:
        refused = f", refused {len(report.refused)}" if report.refused else ""
        console.print(f"  {report.file} → {report.outcome}: {report.messages} rows{refused}", highlight=False)
    letters = [x for x in hub.dead_letters.list("open") if x.system == "wms"]
    for letter in letters:
        console.print(f"  [yellow]dead letter[/] {letter.reason[:120]}", highlight=False)


def _planning(hub: Hub, rng: random.Random, chart: Path) -> None:
    """The planner's item file and a wholesale partner's EDI orders arrive; buffers, schedule and
    chart follow from everything the hub has seen."""
    console.print("\n[bold]Demand-driven planning[/] (DDMRP buffers from every channel's orders)")
    with tempfile.TemporaryDirectory() as planner, tempfile.TemporaryDirectory() as partner:
        items, orders = drop_planning_files(Path(planner), Path(partner), rng, hub.plan.today())
        for system, folder in (("planning", items.parent), ("edi", orders.parent)):
            for report in FileDrop(hub.ports, system, folder, settle_seconds=0).scan():
                console.print(
                    f"  {system}: {report.file} → {report.outcome}: {report.messages} messages",
                    highlight=False,
                )
        hub.process()
    print_buffers(hub.plan.buffers())
    pushed = planned_pushers(hub.ports)["erp"].run_once()
    hub.process()
    console.print(
        f"handed to the ERP as planned production orders: {pushed.created}"
        + "".join(f"\n  {o['order']} → {o['target_ref'] or o['reason']}" for o in pushed.orders),
        highlight=False,
    )
    plan = hub.plan.schedule()
    print_schedule(plan)
    drawn = render_chart(hub.plan.buffers(), plan, chart, hub.settings.planning.schedule_days)
    console.print(f"chart of {drawn} buffers and {len(plan['load'])} work centres: {chart.resolve()}")


def _erp_day(hub: Hub, erp: ErpSimulator, rng: random.Random) -> None:
    """The ERP joins: shop orders become ERP orders, the back office moves them on, the hub polls."""
    console.print("\n[bold]Legacy ERP[/] (SOAP, " + erp.wsdl_url + ")", highlight=False)
    seed_erp(erp.book, rng)
    syncer = outbound_syncers(hub.ports)["erp"]
    sent = syncer.run_once()
    console.print(
        f"outbound sync: {sent.created} shop orders created as ERP sales orders, {sent.rejected} refused",
        highlight=False,
    )
    for row in [o for o in sent.orders if o["state"] == "rejected"][:3]:
        console.print(f"  {row['order']} refused: {row['reason']}", highlight=False)
    hub.process()
    handed_over = [
        o["target_ref"]
        for o in sent.orders
        if o["state"] == "created" and hub.orders.show(o["target_ref"], "erp")["stage"] == "placed"
    ]
    worked = work_through(erp.book, handed_over[:12])
    # The ERP is having a bad day: a proxy error page and a page its cache serves twice.
    erp.faults.arm("http500", operation="GetPaymentsChangedSince")
    erp.faults.arm("duplicate_page", operation="GetCustomersChangedSince")
    reports = soap_pollers(hub.ports)["erp"].poll()
    for r in reports:
        console.print(
            f"poll erp/{r.entity}: {r.records} records in {r.pages} pages, {r.stored} new"
            + (f", {r.retries} retried" if r.retries else "")
            + (f" — [red]{r.error}[/]" if r.error else ""),
            highlight=False,
        )
    hub.process()
    table = Table(
        "shop order", "ERP order", "back office", "stage now", "paid", title="Orders the ERP moved on"
    )
    for number, what in list(worked.items())[:6]:
        order = hub.orders.show(number, "erp")
        if order is not None:
            table.add_row(
                f"{order['system']}:{order['order_ref']}", number, what, order["stage"], order["paid_amount"]
            )
    console.print(table)
    erp_orders = [o for o in hub.orders.list() if o["system"] == "erp"]
    console.print(
        f"ERP orders taken by phone: {len(erp_orders)}; ERP debtors now customer records: "
        f"{len(erp.book.debtors.records)}",
        highlight=False,
    )


def _send(url: str, traffic: Traffic, secrets: dict[str, str], limit: int) -> Counter[str]:
    answers: Counter[str] = Counter()
    with (
        httpx.Client(base_url=url, timeout=30) as client,
        Progress(console=console, transient=True) as bar,
    ):
        task = bar.add_task("sending webhooks", total=len(traffic.webhooks))
        for number, hook in enumerate(traffic.webhooks):
            response = client.post(
                f"/webhooks/{hook.system}",
                content=(body := _body(hook, limit)),
                headers=_headers(hook, body, secrets, number),
            )
            answers[_label(response)] += 1
            bar.advance(task)
    return answers


def _body(hook: Webhook, limit: int) -> bytes:
    if hook.tamper == "malformed":
        return b'{"id": 2, "line_items": ['
    if hook.tamper == "oversize":
        return json.dumps({**hook.body, "note": "x" * (limit + 1)}).encode()
    return json.dumps(hook.body).encode()


def _headers(hook: Webhook, body: bytes, secrets: dict[str, str], number: int) -> dict[str, str]:
    check = SIGNATURE_CHECKS[hook.system]
    secret = "not-the-secret" if hook.tamper == "bad_signature" else secrets[hook.system]
    delivery = {"shopify": "X-Shopify-Webhook-Id", "woocommerce": "X-WC-Webhook-Delivery-ID"}.get(
        hook.system, "X-Carrier-Delivery"
    )
    return {
        "Content-Type": "application/json",
        check.topic_header: hook.topic,
        check.header: sign(secret, body),
        delivery: f"demo-{number}",
    }


def _label(response: httpx.Response) -> str:
    if response.status_code == 200:
        return response.json()["status"]
    return f"HTTP {response.status_code} {response.json().get('error', '')}"


def _ingest_feedback(hub: Hub, traffic: Traffic) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "feedback-export.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, ["type", "order_system", "order_ref", "at", "rating", "comment"])
            writer.writeheader()
            writer.writerows(traffic.feedback_rows)
        envelopes = [line.envelope for line in read_messages(path) if line.envelope is not None]
        hub.receive("feedback", envelopes)


def _audit(hub: Hub) -> None:
    """The auditor's view: the fullest order's history with provenance, and the chain verified."""
    orders = sorted(hub.orders.list(), key=lambda o: -len(o["sources"]))
    if orders:
        order = orders[0]
        entity = f"order:{order['order_ref']}"
        entries = hub.history.entries(hub.history.resolve(entity, order["system"]))
        print_history(f"{entity} ({order['system']})", entries)
    report = verify(hub.store)
    verdict = "[green]ok[/]" if report.ok else f"[bold red]TAMPERED[/] {report.problem}"
    console.print(
        f"[bold]hub audit verify[/]: {verdict} — {report.checked} events, chain head {report.head_link}"
    )


def _webhook_summary(answers: Counter[str]) -> None:
    refused = {k: v for k, v in answers.items() if k.startswith("HTTP")}
    console.print(
        f"\nwebhooks (shops and carrier): {answers['stored']} stored, {answers['duplicate']} duplicates "
        f"recognised, {sum(refused.values())} refused "
        f"({', '.join(f'{k} ×{v}' for k, v in sorted(refused.items()))})",
        highlight=False,
    )


def _customers(hub: Hub) -> None:
    """Customers resolved across the shops, the ERP, the CRM and the call centre: the evidence of
    their links, and one of them as an agent sees them on the phone."""
    rows = hub.store.query("SELECT customer, record FROM hub_cust_members ORDER BY customer, record")
    systems: dict[str, set[str]] = {}
    for row in rows:
        systems.setdefault(row["customer"], set()).add(row["record"].split(":", 1)[0])
    shared = [c for c, known in systems.items() if len(known) > 1]
    console.print(
        f"\n[bold]Single customer view[/] {len(rows)} source records are {len(systems)} customers; "
        f"{len(shared)} of them known to more than one system",
        highlight=False,
    )
    mix = Counter(" + ".join(sorted(systems[c])) for c in shared)
    for combination, count in mix.most_common(6):
        console.print(f"  {count:>3}  {combination}", highlight=False)
    ranked = sorted(shared, key=lambda c: (-len(systems[c]), "callcentre" not in systems[c], c))
    views = [hub.customers.show(customer) for customer in ranked]
    for customer, view in zip(ranked[:3], views, strict=False):
        console.print(f"  [bold]{display_name(view['golden'])}[/] ({customer})", highlight=False)
        for identity in view["identities"]:
            link = next((d for d in reversed(identity["decisions"]) if d["kind"] == "link"), None)
            if link is None:
                console.print(f"    {identity['record']}", highlight=False)
                continue
            levels = ", ".join(f"{k} {v}" for k, v in link["evidence"]["levels"].items() if v != "missing")
            console.print(
                f"    {identity['record']} ~ {link['other']}: score {link['score']:.1f} ({levels})",
                highlight=False,
            )
    _agent_view(views)
    console.print(
        "  hub customers search NAME / show ID / review   the customers, their evidence, the review band"
    )


def _agent_view(views: list[dict[str, Any]]) -> None:
    """The 360 view of a customer who calls, orders on two channels and has a case open."""
    candidates = [v for v in views if len(v["value"]["channels"]) > 1 and v["interactions"]]
    if not candidates:
        return
    view = max(candidates, key=lambda v: (len(v["service_cases"]), len(v["interactions"])))
    value, service = view["value"], view["service"]
    channels = ", ".join(f"{k} {v['orders']}" for k, v in value["channels"].items())
    stages = ", ".join(f"{o['order_ref']} {o['stage']}" for o in view["orders"][-3:])
    console.print(f"\n[bold]On the phone:[/] {display_name(view['golden'])}", highlight=False)
    console.print(
        f"  {value['orders']} orders ({channels}), revenue {value['revenue']}, lifecycle "
        f"{view['lifecycle']}; stages {stages}",
        highlight=False,
    )
    contacts = ", ".join(f"{k} {n}" for k, n in service["interaction_channels"].items())
    flags = f"; [red]{', '.join(service['service_flags'])}[/]" if service["service_flags"] else ""
    console.print(
        f"  {service['interactions']} interactions ({contacts}), open cases {service['open_cases']}{flags}",
        highlight=False,
    )
    for item in view["interactions"][:3]:
        when, agent, outcome = item["occurred_at"][:16], item.get("agent") or "", item.get("outcome") or ""
        console.print(f"    {when} {item['kind']:<6} {agent:<18} {outcome}", highlight=False)


def _report(hub: Hub) -> None:
    counts = hub.orders.stage_counts()
    table = Table("stage", "orders", title="Orders per stage")
    for stage in STAGES:
        table.add_row(stage, str(counts.get(stage, 0)))
    console.print(table)

    flagged = [o for o in hub.orders.list() if o["anomalies"]]
    by_code = Counter(a["code"] for o in flagged for a in o["anomalies"])
    console.print("[bold]Anomalies[/] " + (", ".join(f"{c} ×{n}" for c, n in by_code.items()) or "none"))
    for order in flagged[:5]:
        first = order["anomalies"][0]
        console.print(
            f"  order {order['order_ref']} ({order['stage']}): {first['message']} since {first['since']}",
            highlight=False,
        )

    letters = hub.dead_letters.list("open")
    console.print(f"[bold]Dead letters[/] {len(letters)} open")
    for letter in letters:
        console.print(
            f"  #{letter.id} ({letter.stage}) {letter.system} {letter.message_id}: {letter.reason[:140]}",
            highlight=False,
        )
    waiting = hub.parked.listing()
    console.print(f"[bold]Waiting for their order[/] {len(waiting)}")
    for row in waiting:
        console.print(
            f"  {row['system']} {row['message_id']} waits for order {row['awaiting_ref']}",
            highlight=False,
        )
    for status in hub.projector.status():
        console.print(
            f"[bold]Projection[/] {status['name']}: position {status['position']} of {status['head']}, "
            f"lag {status['lag']}",
            highlight=False,
        )
    _audit(hub)
    console.print(
        "\n[bold]Where to look next[/]\n"
        "  hub orders list --stage shipped      orders in one stage (add --json for scripts)\n"
        "  hub orders show '#1005'              one order by reference or alias\n"
        "  hub adapters status / outbound status   the ERP adapter's cursors, circuit, synced orders\n"
        "  hub deadletters list / show ID       what was refused and why; 'replay' after a fix\n"
        "  hub parked list                      messages waiting for an order\n"
        "  hub accounting                       every message received, and where each one is now\n"
        "  hub projections rebuild order_tracking --verify\n"
        "  hub audit history '#1005' / lineage '#1005' stage / verify   audit by replay\n"
        "  hub demo --serve                     the same, then the HTTP API on /orders, /health, /metrics",
        highlight=False,
    )
