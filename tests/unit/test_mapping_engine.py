"""Mapping files: selection, message ids, and error messages that name file, field, path, value."""

import json
from pathlib import Path

import pytest

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
    assert mappings.message_id(envelope) == content_hash({"kind": "invoice", "no": 1})
    assert mappings.message_id({**envelope, "message_id": "given-1"}) == "given-1"


def test_broken_mapping_file_is_refused_with_its_name(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(MAPPING.replace("to_string(no)", "to_string(no"))
    with pytest.raises(MappingError, match=r"bad.yaml.*invalid JMESPath in field 'order_ref'"):
        MappingSet.load("test", tmp_path)
    (tmp_path / "bad.yaml").write_text(MAPPING.replace("OrderPlaced", "Invoice"))
    with pytest.raises(MappingError, match="unknown contract 'Invoice'"):
        MappingSet.load("test", tmp_path)


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
