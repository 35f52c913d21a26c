"""The documented ERP configuration is the one the demo runs with, and the poller's cursor logic."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from adapters.soap.client import SoapCallFailed, SoapClient, render_request
from adapters.soap.poller import next_position, request_values
from adapters.soap.settings import SoapEntity, SoapSource
from adapters.soap.settings_reference import soap_reference
from entrypoints.settings import Settings
from simulators.crm import crm_system
from simulators.erp import erp_system
from tests.conftest import ROOT


def test_the_documented_erp_block_is_what_the_demo_configures() -> None:
    documented = Settings(**tomllib.loads((ROOT / "deploy" / "erp-system.toml").read_text())).systems["erp"]
    demo = Settings(systems={"erp": erp_system(documented.soap.wsdl)}).systems["erp"]
    assert demo.model_dump() == documented.model_dump()


def test_the_documented_crm_block_is_what_the_demo_configures() -> None:
    documented = Settings(**tomllib.loads((ROOT / "deploy" / "crm-system.toml").read_text())).systems["crm"]
    demo = Settings(systems={"crm": crm_system(documented.soap.wsdl, documented.soap.address)}).systems["crm"]
    assert demo.model_dump() == documented.model_dump()


def test_a_two_step_read_without_its_second_step_is_refused() -> None:
    with pytest.raises(ValueError, match=r"paging = 'changes' needs \[more\]"):
        SoapEntity(operation="getUpdated", paging="changes", lookback_days=29)


def test_a_change_list_without_a_start_is_refused_instead_of_a_silent_window() -> None:
    more = {"operation": "retrieve", "records": "@"}
    with pytest.raises(ValueError, match=r"set initial_cursor .* or lookback_days"):
        SoapEntity(operation="getUpdated", paging="changes", more=more)
    assert SoapEntity(operation="getUpdated", paging="changes", more=more, lookback_days=29).overlap() == 300
    assert SoapEntity(operation="List", overlap_seconds=30).overlap() == 30
    assert SoapEntity(operation="List").overlap() == 0


@pytest.mark.parametrize(
    ("cursor", "cursor_format", "earlier"),
    [
        ("01.01.2026 00:00:30", "%d.%m.%Y %H:%M:%S", "31.12.2025 23:59:30"),
        ("2026-01-01T00:00:30Z", None, "2025-12-31T23:59:30Z"),
        ("2026-01-01T00:00:30+01:00", None, "2025-12-31T23:59:30+01:00"),
        ("page-7", None, "page-7"),  # no time: asked as it is
    ],
)
def test_the_overlap_moves_the_asked_since_back_in_the_cursor_s_own_format(
    cursor: str, cursor_format: str | None, earlier: str
) -> None:
    entity = SoapEntity(operation="List", cursor_format=cursor_format, overlap_seconds=60)
    assert request_values(entity, {"since": cursor})["since"] == earlier


def test_placeholders_keep_their_type_and_empty_ones_are_left_out() -> None:
    template: dict[str, Any] = {
        "Since": "{since}",
        "Page": "{page}",
        "Filter": [{"Criteria": ">={since}"}],
        "Key": "{bookmark}",
    }
    rendered = render_request(template, {"since": "01.01.2026 00:00:00", "page": 2, "bookmark": None})
    assert rendered == {
        "Since": "01.01.2026 00:00:00",
        "Page": 2,
        "Filter": [{"Criteria": ">=01.01.2026 00:00:00"}],
    }


ENTITY = SoapEntity(
    operation="List", page_size=3, cursor_field="At", cursor_format="%d.%m.%Y %H:%M:%S", initial_cursor=""
)


def at(second: int) -> dict[str, str]:
    return {"At": f"01.01.2026 00:00:{second:02d}"}


def test_the_cursor_moves_to_the_last_change_time_seen_and_restarts_at_page_one() -> None:
    following, done = next_position(ENTITY, {"since": "", "page": 1}, [at(1), at(2), at(5)])
    assert following == {"since": "01.01.2026 00:00:05", "page": 1} and not done


def test_a_run_of_equal_change_times_longer_than_a_page_moves_on_by_page_number() -> None:
    position = {"since": "01.01.2026 00:00:05", "page": 1}
    following, done = next_position(ENTITY, position, [at(5), at(5), at(5)])
    assert following == {"since": "01.01.2026 00:00:05", "page": 2} and not done
    following, done = next_position(ENTITY, following, [at(5)])
    assert following == {"since": "01.01.2026 00:00:05", "page": 1} and done


def test_a_page_older_than_its_request_is_refused_as_inconsistent() -> None:
    with pytest.raises(SoapCallFailed) as refused:
        next_position(ENTITY, {"since": "01.01.2026 00:00:05", "page": 1}, [at(1), at(2), at(5)])
    assert refused.value.transient and refused.value.kind == "inconsistent page"


def test_bookmark_paging_passes_the_last_key_and_starts_over_after_a_full_pass() -> None:
    entity = SoapEntity(operation="ReadMultiple", paging="bookmark", page_size=2, bookmark_field="No")
    following, done = next_position(entity, {"bookmark": None}, [{"No": "C1"}, {"No": "C2"}])
    assert following["bookmark"] == "C2" and not done
    following, done = next_position(entity, following, [{"No": "C3"}])
    assert following["bookmark"] is None and done


def test_the_soap_reference_lists_every_option_as_the_settings_define_it() -> None:
    written = (ROOT / "docs" / "SOAP.md").read_text()
    assert written == soap_reference(), (
        "docs/SOAP.md is stale: python -m adapters.soap.settings_reference > docs/SOAP.md"
    )
    for option in ("overlap_seconds", "lookback_days", "headers", "expired_faults", "batch_size", "before"):
        assert f"| `{option}` |" in written


@pytest.mark.parametrize("damage", [IndexError("list index out of range"), KeyError("Body"), ValueError("x")])
def test_an_answer_zeep_cannot_read_is_a_transient_failure_of_the_call_not_a_crash(damage: Exception) -> None:
    """A fuzzed answer with one byte changed made zeep raise IndexError (a body left without its
    element): it escaped the poll as a crash. What zeep's parser meets is a damaged answer."""
    client = SoapClient("erp", SoapSource(wsdl="erp.wsdl"))

    def garbled(**request: Any) -> Any:
        raise damage

    with pytest.raises(SoapCallFailed) as failed:
        client._invoke("GetCustomersChangedSince", garbled, {})
    assert failed.value.transient and type(damage).__name__ in str(failed.value)
