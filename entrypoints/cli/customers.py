"""``hub customers``: the single customer view, search, export, and the stewards' decisions."""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich import box
from rich.table import Table

from entrypoints.cli.context import JSON, console, counting_progress, fail, open_hub, print_json
from entrypoints.cli.queries import AS_OF, instant
from hub.audit.history import EntityNotFound
from hub.identity.customers import SearchTooLong, UnknownCustomerId
from hub.identity.service import UnknownCustomer
from projections.customer_value import display_name

__all__ = ["customers"]

customers = typer.Typer(help="The single customer view across all systems.", no_args_is_help=True)
STEWARD = typer.Option("steward", "--steward", help="who decides (recorded with the decision)")
GRAPH_COLUMNS = ("customer_id", "record", "decision", "by", "model", "score", "at")


@customers.command("show")
def show(
    ctx: typer.Context,
    customer: str = typer.Argument(..., help="a customer id, or SYSTEM:REF of any of its source records"),
    as_of: str | None = AS_OF,
    as_json: bool = JSON,
) -> None:
    """One customer: identities, golden record with provenance, orders, value and risk."""
    moment = instant(as_of)
    with open_hub(ctx) as hub:
        try:
            found = hub.customers.show(hub.customers.resolve(customer), as_of=moment)
        except UnknownCustomerId as error:
            fail(str(error), code=1)
    if as_json:
        print_json(found)
        return
    _print_customer(found)


def _print_customer(c: dict[str, Any]) -> None:
    golden, value = c["golden"], c["value"]
    name = display_name(golden)
    when = f" as of {c['as_of']}" if "as_of" in c else ""
    console.print(f"[bold]{name or '(no name)'}[/] customer {c['customer_id']}{when}", highlight=False)
    for attribute, entry in golden.items():
        shown = entry["value"] if not isinstance(entry["value"], list | dict) else json.dumps(entry["value"])
        console.print(
            f"  {attribute:<18} {shown}  [dim]({entry['system']}, {entry['rule'].replace('_', ' ')})[/]",
            highlight=False,
        )
    rfm = c["rfm"] or {}
    console.print(
        f"  value: {value['revenue']} over {value['orders']} orders (avg {value['average_order_value']}), "
        f"last {value['last_order_at'] or '-'}; lifecycle {c['lifecycle']}; RFM {rfm.get('score', '-')} "
        f"{rfm.get('segment', '')}; Pareto {c['pareto_class'] or '-'}; channels "
        + ", ".join(f"{k} {v['orders']}" for k, v in value["channels"].items())
        + (f"; [red]overdue {value['overdue_receivables']}[/]" if value["credit_flags"] else ""),
        highlight=False,
    )
    console.print(f"[bold]Identities[/] {len(c['identities'])}")
    for identity in c["identities"]:
        last = identity["decisions"][-1] if identity["decisions"] else {}
        why = f"{last.get('kind')} by {last.get('by')}" if last else ""
        if last.get("score") is not None:
            why += f", score {last['score']:.1f} vs {last.get('other')}"
        console.print(f"  {identity['record']}  [dim]{why}[/]", highlight=False)
    if c["orders"]:
        table = Table("order", "system", "channel", "stage", "total", "paid", "placed", box=box.SIMPLE_HEAD)
        for o in c["orders"]:
            table.add_row(
                o["order_ref"],
                o["system"],
                o["channel"],
                o["stage"],
                o["total_amount"],
                o["paid_amount"],
                o["placed_at"][:10],
            )
        console.print(table)
    _print_service(c)


def _print_service(c: dict[str, Any]) -> None:
    service = c["service"]
    if service["service_flags"]:
        console.print("[red]" + ", ".join(f.replace("_", " ") for f in service["service_flags"]) + "[/]")
    if c["service_cases"]:
        table = Table(
            "case",
            "kind",
            "status",
            "priority",
            "opened",
            "history",
            box=box.SIMPLE_HEAD,
            title="Service cases",
        )
        for case in c["service_cases"]:
            table.add_row(
                case.get("number") or case["case_ref"],
                case.get("kind") or "",
                case.get("status") or "",
                case.get("priority") or "",
                str(case.get("opened_at", ""))[:10],
                " → ".join(h["event"] for h in case["history"]),
            )
        console.print(table)
    if c["interactions"]:
        shown = len(c["interactions"])
        title = (
            f"Interactions ({shown} newest of {service['interactions']})"
            if shown < service["interactions"]
            else "Interactions"
        )
        table = Table(
            "when", "kind", "channel", "agent", "outcome", "subject", box=box.SIMPLE_HEAD, title=title
        )
        for item in c["interactions"]:
            table.add_row(
                str(item["occurred_at"])[:16].replace("T", " "),
                item["kind"],
                item["channel"],
                item.get("agent") or "",
                item.get("outcome") or "",
                item.get("subject") or "",
            )
        console.print(table)


@customers.command("graph")
def graph(
    ctx: typer.Context,
    as_of: str | None = AS_OF,
    output: str = typer.Option("table", "--format", help="table | csv | jsonl (one row per source record)"),
) -> None:
    """The identity graph — which customer each source record belonged to — now or as of a time,
    rebuilt from the decisions in the log, with the decision that placed each record."""
    if output not in ("table", "csv", "jsonl"):
        fail(f"--format {output!r}: use table, csv or jsonl")
    moment = instant(as_of)
    with open_hub(ctx) as hub:
        rows = hub.customers.graph(moment)
    if output == "jsonl":
        for row in rows:
            print(json.dumps(row, sort_keys=True))
        return
    if output == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(GRAPH_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
        return
    members: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        members.setdefault(row["customer_id"], []).append(row)
    shared = {c: m for c, m in members.items() if len(m) > 1}
    when = f" as of {moment.isoformat()}" if moment else ""
    console.print(
        f"{len(rows)} source records in {len(members)} customers{when}; {len(shared)} customers hold "
        "more than one record",
        highlight=False,
    )
    table = Table("customer", "record", "placed by", "model", "score", "at", box=box.SIMPLE_HEAD)
    for customer, held in sorted(shared.items(), key=lambda item: (-len(item[1]), item[0]))[:50]:
        for row in held:
            score = f"{row['score']:.1f}" if row["score"] is not None else ""
            table.add_row(
                customer,
                row["record"],
                f"{row['decision']} ({row['by']})",
                row["model"] or "",
                score,
                row["at"][:19],
            )
    console.print(table)
    if len(shared) > 50:
        console.print(f"(50 of {len(shared)} customers shown; --format csv for all)")


@customers.command("rematch")
def rematch(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="only count what would change (an estimate)"),
    as_json: bool = JSON,
) -> None:
    """Resolve every source record again through the configured matching rules (after a change
    to [customers.matching]): a replay in recording order; stewards' decisions stand."""
    with open_hub(ctx) as hub, counting_progress(as_json) as progress:
        task = progress.add_task("re-matching", total=None)
        counts = hub.identity.rematch(
            dry_run=dry_run,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
        version = hub.identity.model.version
    result = {"model": version, "dry_run": dry_run, "decisions": dict(sorted(counts.items()))}
    if as_json:
        print_json(result)
        return
    verb = "would decide" if dry_run else "decided"
    summary = ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items())) or "nothing: every record stays"
    console.print(f"re-match with model {version} {verb}: {summary}", highlight=False)


@customers.command("train")
def train(
    ctx: typer.Context,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="learn and show the model, do not record or use it"
    ),
    seed: int = typer.Option(1, "--seed", help="for the random pairs and samples (same data, same model)"),
    by: str = typer.Option("operator", "--by", help="who trains (recorded with the model)"),
    as_json: bool = JSON,
) -> None:
    """Learn the matcher's model from the records held: u from random pairs, m by
    expectation-maximisation, name frequencies, placeholder birthdays, households. The model is
    recorded in the log and used for the records resolved from now on; `hub customers rematch`
    applies it to those resolved before."""
    with open_hub(ctx) as hub, counting_progress(as_json) as progress:
        tasks: dict[str, Any] = {}

        def step(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=total)
            progress.update(tasks[name], completed=done, total=total)

        try:
            model = hub.identity.train(by=by, dry_run=dry_run, seed=seed, on_progress=step)
        except ValueError as error:
            fail(str(error), code=1)
    _show_model(model, as_json, dry_run=dry_run)


@customers.command("model")
def model(ctx: typer.Context, as_json: bool = JSON) -> None:
    """The matcher's model in use: each comparison level with m, u and weight (log2 m/u), the
    thresholds, and what training measured."""
    with open_hub(ctx) as hub:
        found = hub.identity.model
    _show_model(found, as_json)


def _show_model(model: Any, as_json: bool, *, dry_run: bool = False) -> None:
    summary = {
        "version": model.version,
        "trained": model.trained or None,
        "dry_run": dry_run,
        "thresholds": {"link": model.link, "review": model.review, "veto": model.veto},
        "prior": model.prior if model.trained else None,
        "households": model.households,
        "household_rules": model.guards_households,
        "placeholder_days": sorted(model.placeholder_days),
        "duplicate_free": sorted(model.duplicate_free),
        "levels": model.table(),
    }
    if as_json:
        print_json(summary)
        return
    state = "learned, not recorded (--dry-run)" if dry_run else ("trained" if model.trained else "defaults")
    console.print(f"[bold]model {model.version}[/] ({state})", highlight=False)
    table = Table("attribute", "level", "m", "u", "weight (bits)", box=box.SIMPLE)
    for row in summary["levels"]:
        table.add_row(
            row["attribute"], row["level"], f"{row['m']:.4g}", f"{row['u']:.4g}", f"{row['weight']:+.2f}"
        )
    console.print(table)
    console.print(
        f"link ≥ {model.link:g}, review ≥ {model.review:g}, evidence against < {model.veto:g} bits"
        + (f"; prior {model.prior:+.2f} bits" if model.trained else ""),
        highlight=False,
    )
    rules = "on" if model.guards_households else "off (the data shows no households)"
    measured = "not measured" if model.households is None else f"{model.households:.3f}"
    console.print(f"households {measured}: household rules {rules}", highlight=False)
    if model.placeholder_days:
        console.print(f"birthdays read as year only: {', '.join(sorted(model.placeholder_days))}")
    if model.trained:
        console.print(f"trained: {json.dumps(model.trained)}", highlight=False)


@customers.command("record")
def record(
    ctx: typer.Context,
    customer: str = typer.Argument(..., help="SYSTEM:REF as the source system knows the customer, or an id"),
    as_of: str | None = AS_OF,
    as_json: bool = JSON,
) -> None:
    """One source customer record, now or as of a time."""
    moment = instant(as_of) or datetime.now(UTC)
    with open_hub(ctx) as hub:
        try:
            key = hub.history.resolve_customer(customer)
        except EntityNotFound as error:
            fail(str(error), code=1)
        found = hub.history.as_of(key, moment)
    if found is None:
        fail(f"customer {customer!r} was not known yet at {moment.isoformat()}", code=1)
    if as_json:
        print_json(found)
        return
    console.print(f"[bold]customer {found['system']}:{found['customer_ref']}[/] (version {found['version']})")
    for name, value in found["fields"].items():
        if value not in (None, [], ""):
            console.print(f"  {name:<18} {value}", highlight=False)


@customers.command("search")
def search(
    ctx: typer.Context,
    text: str = typer.Argument(..., help="name (typos and swapped order are fine), e-mail, phone or id"),
    limit: int = typer.Option(20, "--limit", min=1, max=500),
    as_json: bool = JSON,
) -> None:
    """Find customers."""
    with open_hub(ctx) as hub:
        try:
            found = hub.customers.search(text, limit)
        except SearchTooLong as error:
            fail(str(error))
    if as_json:
        print_json(found)
        return
    if not found:
        console.print(f"no customer matches {text!r}")
        return
    table = Table("customer", "name", "records", "matched by", "score", box=box.SIMPLE_HEAD)
    for hit in found:
        table.add_row(
            hit["customer_id"],
            hit["name"],
            ", ".join(hit["records"]),
            hit["matched_by"],
            f"{hit['score']:.2f}",
        )
    console.print(table)


@customers.command("export")
def export(
    ctx: typer.Context,
    output_format: str = typer.Option("csv", "--format", help="csv or jsonl"),
    output: Path | None = typer.Option(None, "--output", help="file to write (default: standard output)"),
) -> None:
    """One row per source record: customer_id, system, source_id and the golden fields."""
    if output_format not in ("csv", "jsonl"):
        fail(f"--format {output_format!r}: choose csv or jsonl")
    with open_hub(ctx) as hub:
        rows = list(hub.customers.export())
    stream = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    try:
        if output_format == "jsonl":
            for row in rows:
                stream.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        else:
            columns = ["customer_id", "system", "source_id"]
            columns += sorted({k for row in rows for k in row} - set(columns))
            writer = csv.DictWriter(stream, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    finally:
        if output:
            stream.close()
    if output:
        console.print(f"wrote {len(rows)} rows to {output}")


@customers.command("review")
def review(
    ctx: typer.Context, limit: int = typer.Option(100, "--limit", min=1), as_json: bool = JSON
) -> None:
    """Candidate pairs in the review band, best first: confirm or reject them."""
    with open_hub(ctx) as hub:
        pairs = hub.customers.review(limit)
    if as_json:
        print_json(pairs)
        return
    if not pairs:
        console.print("nothing to review")
        return
    for pair in pairs:
        levels, filled = pair["evidence"].get("levels", {}), pair["evidence"].get("from_customer", [])
        agree = ", ".join(
            f"{k} {v}" + (" (another record of the customer)" if k in filled else "")
            for k, v in levels.items()
            if v != "missing"
        )
        a, b = (name or "(no name)" for name in pair["names"])
        console.print(
            f"{pair['score']:6.1f}  {pair['a']} ~ {pair['b']}  {a} ~ {b}\n"
            f"        {pair['question']}  [dim]{agree}[/]",
            highlight=False,
        )
    console.print("decide with: hub customers confirm A B / hub customers reject A B")


def _decided(decisions: list[Any], as_json: bool) -> None:
    if as_json:
        print_json([d.to_json() for d in decisions])
        return
    for d in decisions:
        console.print(f"{d.kind}: {d.record or ''} → customer {d.customer} (by {d.by})", highlight=False)


def _steward(ctx: typer.Context, act: Any, as_json: bool) -> None:
    with open_hub(ctx) as hub:
        try:
            decisions = act(hub)
        except (UnknownCustomer, UnknownCustomerId) as error:
            fail(str(error), code=1)
        hub.process()
    _decided(decisions, as_json)


@customers.command("merge")
def merge(
    ctx: typer.Context,
    keep: str = typer.Argument(..., help="the customer that stays (id or SYSTEM:REF)"),
    absorb: str = typer.Argument(..., help="the customer merged into it (id or SYSTEM:REF)"),
    steward: str = STEWARD,
    as_json: bool = JSON,
) -> None:
    """Two customers are one person: a steward's decision the matcher never undoes."""
    _steward(
        ctx,
        lambda hub: hub.identity.merge(hub.customers.resolve(keep), hub.customers.resolve(absorb), steward),
        as_json,
    )


@customers.command("split")
def split(
    ctx: typer.Context,
    customer: str = typer.Argument(..., help="the customer (id or SYSTEM:REF)"),
    record: str = typer.Argument(..., help="the source record (SYSTEM:REF) that is someone else"),
    steward: str = STEWARD,
    as_json: bool = JSON,
) -> None:
    """Take a record out of a customer (and undo a merge: what came with it goes back)."""
    _steward(ctx, lambda hub: hub.identity.split(hub.customers.resolve(customer), record, steward), as_json)


@customers.command("confirm")
def confirm(
    ctx: typer.Context,
    a: str = typer.Argument(..., help="SYSTEM:REF"),
    b: str = typer.Argument(..., help="SYSTEM:REF"),
    steward: str = STEWARD,
    as_json: bool = JSON,
) -> None:
    """A reviewed pair is the same customer."""
    _steward(ctx, lambda hub: hub.identity.confirm(a, b, steward), as_json)


@customers.command("reject")
def reject(
    ctx: typer.Context,
    a: str = typer.Argument(..., help="SYSTEM:REF"),
    b: str = typer.Argument(..., help="SYSTEM:REF"),
    steward: str = STEWARD,
    as_json: bool = JSON,
) -> None:
    """A reviewed pair is two customers, now and after any change."""
    _steward(ctx, lambda hub: hub.identity.reject(a, b, steward), as_json)
