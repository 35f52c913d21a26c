"""Mapping files: selection, message ids, and error messages that name file, field, path, value."""

import json
from pathlib import Path

import pytest

from hub.contracts import Plausibility
from hub.mapping import MappingError, MappingSet, SourceContext, as_envelope, check_samples, content_hash
from tests.conftest import ROOT

MAPPING = """
name: test.orders
version: 3
contract: OrderPlaced
when: "body.kind == 'order'"
message_id: "join(':', ['order', to_string(body.no)])"
fields:
  order_ref: "to_string(no)"
  channel: {value: erp}
  currency: {path: cur, transforms: ["lookup:currency"]}
  total_amount: {path: total, transforms: ["decimal:comma"]}
  placed_at: {path: at, transforms: [datetime]}
  lines:
    each: items
    fields:
      sku: sku
      quantity: {path: qty, transforms: [decimal]}
      unit_price: {path: price, transforms: ["decimal:comma"]}
tables:
  currency: {"D": "EUR", "U": "USD"}
"""


@pytest.fixture
def mappings(tmp_path: Path) -> MappingSet:
    (tmp_path / "orders.yaml").write_text(MAPPING)
    return MappingSet.load("test", tmp_path)


def order(**changes: object) -> dict:
    body = {
        "kind": "order",
        "no": 55,
        "cur": "D",
        "total": "1.234,50",
        "at": "2026-03-01 10:00",
        "items": [{"sku": "A-1", "qty": 2, "price": "617,25"}],
    }
    return as_envelope({**body, **changes})


def test_maps_a_legacy_order_into_the_contract(mappings: MappingSet) -> None:
    envelope = order()
    mapping = mappings.select(envelope)
    record = mapping.apply(envelope, SourceContext(timezone="Europe/Berlin"))
    assert mapping.label == "test.orders@3"
    assert record.total_amount == record.lines[0].unit_price * 2
    assert record.currency == "EUR"
    assert record.placed_at.isoformat() == "2026-03-01T09:00:00+00:00"
    assert mappings.message_id(envelope) == "order:55"
    assert mapping.derive_entity_key(envelope) is None  # this mapping declares none


def test_shipped_mappings_declare_the_entity_key_for_partitioning() -> None:
    mappings = MappingSet.load("shopify", ROOT / "mappings" / "shopify")
    envelope = as_envelope(
        json.loads((ROOT / "mappings/shopify/samples/fulfillments_create.input.json").read_text())
    )
    assert mappings.select(envelope).derive_entity_key(envelope) == "450789469"  # the order, not the parcel


def test_error_names_file_field_path_and_value(mappings: MappingSet) -> None:
    envelope = order(items=[{"sku": "A-1", "qty": "two", "price": "1,00"}])
    with pytest.raises(MappingError) as caught:
        mappings.select(envelope).apply(envelope, SourceContext())
    message = str(caught.value)
    assert "orders.yaml" in message
    assert "field 'lines.0.quantity'" in message
    assert "path 'qty'" in message
    assert 'value "two"' in message


def test_contract_violation_is_reported_against_the_source_path(mappings: MappingSet) -> None:
    envelope = order(cur="X")
    with pytest.raises(MappingError, match=r"field 'currency', path 'cur', value \"X\""):
        mappings.select(envelope).apply(envelope, SourceContext())


def test_missing_required_value_is_named(mappings: MappingSet) -> None:
    envelope = order(at=None)
    with pytest.raises(MappingError, match=r"field 'placed_at'.*Field required"):
        mappings.select(envelope).apply(envelope, SourceContext())


def test_unmatched_message_lists_the_known_mappings(mappings: MappingSet) -> None:
    with pytest.raises(MappingError, match=r"no mapping .* matches .* known: test\.orders@3"):
        mappings.select(as_envelope({"kind": "invoice"}))


def test_message_id_falls_back_to_a_content_hash(mappings: MappingSet) -> None:
    envelope = as_envelope({"kind": "invoice", "no": 1})
    assert (
        mappings.message_id(envelope)
        == content_hash(envelope)
        == mappings.message_id(as_envelope({"no": 1, "kind": "invoice"}))
    )
    assert mappings.message_id({**envelope, "message_id": "given-1"}) == "given-1"
    # the same body under another topic is another message, not a duplicate to drop
    other = {"headers": {"x-shopify-topic": "orders/paid"}, "body": envelope["body"]}
    assert mappings.message_id(other) != mappings.message_id(envelope)


def test_broken_mapping_file_is_refused_with_its_name(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(MAPPING.replace("to_string(no)", "to_string(no"))
    with pytest.raises(MappingError, match=r"bad.yaml.*invalid JMESPath in field 'order_ref'"):
        MappingSet.load("test", tmp_path)
    (tmp_path / "bad.yaml").write_text(MAPPING.replace("OrderPlaced", "Invoice"))
    with pytest.raises(MappingError, match="unknown contract 'Invoice'"):
        MappingSet.load("test", tmp_path)
    (tmp_path / "bad.yaml").write_text(MAPPING + 'requires:\n  - check: "no != null"\n')
    with pytest.raises(MappingError, match=r"^[^/]+/bad.yaml: each of 'requires' is a table with 'check'"):
        MappingSet.load("test", tmp_path)  # named by its folder and name, never its server path


SHIPPED = sorted(p.name for p in (ROOT / "mappings").iterdir() if p.is_dir())


def test_every_shipped_mapping_folder_is_checked() -> None:
    assert {"shopify", "erp", "crm", "callcentre", "legacy_crm"} <= set(SHIPPED)


@pytest.mark.parametrize("system", SHIPPED)
def test_shipped_mapping_folders_pass_their_samples(system: str) -> None:
    results = list(check_samples(system, ROOT / "mappings" / system, SourceContext()))
    assert results, f"{system} has no samples"
    assert [r for r in results if not r.ok] == []


def test_real_shopify_order_maps_with_its_customer_and_alias() -> None:
    body = json.loads((ROOT / "mappings/shopify/samples/orders_create.input.json").read_text())
    mappings = MappingSet.load("shopify", ROOT / "mappings" / "shopify")
    envelope = as_envelope(body)
    record = mappings.select(envelope).apply(envelope, SourceContext())
    assert record.order_ref == "450789469"
    assert [a.ref for a in record.aliases] == ["#1001"]
    assert record.customer is not None and record.customer.phones == ["+15556251199"]


LENIENT = """
name: test.people
version: 1
contract: CustomerRecord
when: "body.ref != null"
fields:
  customer_ref: ref
  given_name: {path: first, transforms: [strip], on_error: drop}
  birth_date: {path: dob, transforms: [partial_date], on_error: null}
  tax_id: {path: tax, on_error: null}
  emails: mail
"""


@pytest.fixture
def people(tmp_path: Path) -> MappingSet:
    (tmp_path / "people.yaml").write_text(LENIENT)
    return MappingSet.load("people", tmp_path)


def test_a_lenient_field_keeps_the_record_and_notes_the_value(people: MappingSet) -> None:
    envelope = as_envelope({"ref": "7", "first": {"not": "text"}, "dob": "1845-81-08", "mail": ["a@b.c"]})
    record, notes = people.select(envelope).translate(envelope, SourceContext())
    assert record.customer_ref == "7" and record.emails == ["a@b.c"]
    assert record.birth_date is None and "birth_date" in record.model_fields_set  # null: stated empty
    assert "given_name" not in record.model_fields_set  # drop: not stated at all
    assert [(n.field, n.path, n.value) for n in notes] == [
        ("given_name", "first", '{"not": "text"}'),
        ("birth_date", "dob", '"1845-81-08"'),
    ]
    assert "has no month 81" in notes[1].reason


def test_a_value_the_contract_refuses_in_a_lenient_field_is_set_aside(people: MappingSet) -> None:
    envelope = as_envelope({"ref": "7", "tax": ["a", "list"], "mail": []})
    record, notes = people.select(envelope).translate(envelope, SourceContext())
    assert record.tax_id is None
    assert [(n.field, n.value) for n in notes] == [("tax_id", '["a", "list"]')]
    assert "valid string" in notes[0].reason


def test_a_strict_field_still_makes_a_dead_letter(people: MappingSet) -> None:
    envelope = as_envelope({"ref": "7", "mail": "not-a-list"})
    with pytest.raises(MappingError, match="field 'emails'"):
        people.select(envelope).translate(envelope, SourceContext())


def test_text_with_control_characters_or_beyond_the_limit_is_set_aside_or_refused(
    people: MappingSet,
) -> None:
    """A lenient field holding a NUL is set aside with a note; a strict one (an e-mail in a list)
    refuses the message naming the field, its source path and the bound; so does text longer
    than ``[limits] max_text_length``."""
    envelope = as_envelope({"ref": "7", "first": "Bob\x00by", "tax": "x" * 50, "mail": ["a@b.c"]})
    context = SourceContext(plausibility=Plausibility(max_text=40))
    record, notes = people.select(envelope).translate(envelope, context)
    assert "given_name" not in record.model_fields_set and record.tax_id is None
    assert [(n.field, n.path) for n in notes] == [("given_name", "first"), ("tax_id", "tax")]
    assert "U+0000 at position 3" in notes[0].reason and "max_text_length" in notes[1].reason
    strict = as_envelope({"ref": "7", "mail": ["ok@b.c", "bad\x1b@b.c"]})
    with pytest.raises(MappingError) as refused:
        people.select(strict).translate(strict, context)
    assert refused.value.field == "emails" and refused.value.path == "mail"
    assert "[1] holds the control character U+001B" in str(refused.value)


def test_on_error_takes_only_known_answers(tmp_path: Path) -> None:
    (tmp_path / "people.yaml").write_text(LENIENT.replace("on_error: drop", "on_error: ignore"))
    with pytest.raises(MappingError, match="on_error 'ignore' is not one of fail, null, drop"):
        MappingSet.load("people", tmp_path)


@pytest.mark.parametrize(
    ("dob", "read"),
    [
        ("1861", "1861"),
        ("1861-03", "1861-03"),
        ("1861-03-00", "1861-03"),
        ("1861-00-00", "1861"),
        ("1861-03-05", "1861-03-05"),
    ],
)
def test_partial_birth_dates_are_read_as_such(people: MappingSet, dob: str, read: str) -> None:
    envelope = as_envelope({"ref": "7", "dob": dob})
    record, notes = people.select(envelope).translate(envelope, SourceContext())
    assert (record.birth_date, notes) == (read, [])


def test_samples_compare_the_fields_they_name_and_report_every_difference(
    people: MappingSet, tmp_path: Path
) -> None:
    samples = tmp_path / "samples"
    samples.mkdir()
    (samples / "person.input.json").write_text(
        json.dumps({"ref": "7", "first": " Ann ", "dob": "1861", "mail": []})
    )
    expected = {
        "mapping": "test.people@1",
        "record": {"customer_ref": "7", "birth_date": "1861", "tax_id": None},
    }
    (samples / "person.expected.json").write_text(json.dumps(expected))
    (result,) = check_samples("people", tmp_path, SourceContext())
    assert result.ok, result.detail  # kind, emails, addresses: defaults not spelled out
    expected.update(exact=True, record={"customer_ref": "8", "given_name": "Bob"})
    (samples / "person.expected.json").write_text(json.dumps(expected))
    (result,) = check_samples("people", tmp_path, SourceContext())
    assert not result.ok
    for difference in (
        'record.customer_ref: expected "8", got "7"',
        'record.given_name: expected "Bob", got "Ann"',
    ):
        assert difference in result.detail
    assert 'record.birth_date: not expected, got "1861"' in result.detail


def test_samples_name_the_fields_that_must_have_been_given_up(people: MappingSet, tmp_path: Path) -> None:
    samples = tmp_path / "samples"
    samples.mkdir()
    (samples / "bad.input.json").write_text(json.dumps({"ref": "7", "dob": "1845-81-08"}))
    (samples / "bad.expected.json").write_text(
        json.dumps({"record": {"birth_date": None}, "notes": ["birth_date"]})
    )
    (result,) = check_samples("people", tmp_path, SourceContext())
    assert result.ok, result.detail
    (samples / "bad.expected.json").write_text(json.dumps({"record": {}, "notes": []}))
    (result,) = check_samples("people", tmp_path, SourceContext())
    assert "notes: expected fields [], got ['birth_date']" in result.detail


def test_the_reason_names_the_place_of_bad_text_nested_in_lists_and_tables() -> None:
    from hub.contracts import PLAUSIBLE
    from hub.mapping.engine import _text_problem_in

    nested = {"addresses": [{"city": "Köln"}, {"city": "Bonn\x00"}]}
    assert _text_problem_in(nested, PLAUSIBLE).startswith(
        "['addresses'][1]['city'] holds the control character U+0000"
    )
