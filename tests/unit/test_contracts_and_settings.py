"""Contracts refuse impossible values; settings name the key and value they cannot use."""

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from entrypoints.settings import load_settings
from hub import settings as core
from hub.contracts import PaymentUpdate
from hub.settings import ConfigError


def payment(**changes: object) -> dict:
    return {
        "order_ref": "1",
        "payment_id": "p",
        "amount": "10.00",
        "currency": "EUR",
        "status": "captured",
        "occurred_at": "2026-01-01T10:00:00+01:00",
        **changes,
    }


def test_payment_contract_normalises_to_utc() -> None:
    record = PaymentUpdate.model_validate(payment())
    assert record.amount == Decimal("10.00")
    assert record.occurred_at.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount", "-1", "negative"),
        ("amount", "1e12", "plausible maximum"),
        ("currency", "EURO", "ISO 4217"),
        ("status", "paid", "Input should be"),
        ("occurred_at", datetime(2026, 1, 1), "no zone"),
    ],
)
def test_impossible_values_are_refused(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PaymentUpdate.model_validate(payment(**{field: value}))


def test_config_file_errors_name_file_key_and_value(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('[systems.erp]\nadapter = "file"\ntimezone = "Mars/Olympus"\n')
    with pytest.raises(ConfigError, match=r"hub.toml: systems.erp.timezone: .*Mars/Olympus"):
        load_settings(config)
    config.write_text("batch_size = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(config)


def test_a_misspelt_key_anywhere_is_an_error_naming_the_nearest_key(tmp_path: Path) -> None:
    """A key the hub does not read would otherwise leave a default in force without a word (a
    misspelt ``initial_curser`` moved a cursor past 190 of 200 records)."""
    config = tmp_path / "hub.toml"
    config.write_text(
        "batch_sise = 10\n[tracking]\npaid_not_shiped_hours = 4\n[limits]\nmax_quantty = 5\n"
        '[systems.erp]\nadapter = "soap"\n[systems.erp.soap]\nwsdl = "x.wsdl"\n'
        '[systems.erp.soap.entities.items]\noperation = "ListItems"\ninitial_curser = "2020-01-01"\n'
        "[systems.erp.soap.entities.items.colour]\nx = 1\n"
    )
    with pytest.raises(ConfigError) as error:
        load_settings(config)
    message = str(error.value)
    for where, nearest in [
        ("batch_sise", "batch_size"),
        ("tracking.paid_not_shiped_hours", "paid_not_shipped_hours"),
        ("limits.max_quantty", "max_quantity"),
        ("systems.erp.soap.entities.items.initial_curser", "initial_cursor"),
    ]:
        assert f"hub.toml: {where}: unknown key; did you mean {nearest!r}?" in message
    assert "systems.erp.soap.entities.items.colour: unknown key; known here: " in message


def test_an_adapters_table_is_read_only_by_settings_put_together_with_that_adapter(tmp_path: Path) -> None:
    """The core declares what every source has; the SOAP adapter's tables come from the adapter
    (``entrypoints.settings``). Without them a ``soap`` table is an unknown key, never ignored."""
    config = tmp_path / "hub.toml"
    config.write_text(
        '[systems.erp]\nadapter = "soap"\ntimezone = "Europe/Berlin"\n[systems.erp.soap]\nwsdl = "x.wsdl"\n'
    )
    with pytest.raises(ConfigError, match=r"hub.toml: systems.erp.soap: unknown key; known here: adapter, "):
        core.load_settings(config)
    erp = load_settings(config).system("erp")
    assert erp.soap.wsdl == "x.wsdl" and erp.timezone == "Europe/Berlin"  # type: ignore[attr-defined]
    assert load_settings(config).system("absent").soap is None  # type: ignore[attr-defined]


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('database_url = "sqlite:///from-file.db"\n[tracking]\nparked_timeout_hours = 3\n')
    monkeypatch.setenv("HUB_DATABASE_URL", "sqlite:///from-env.db")
    settings = load_settings(config)
    assert settings.database_url == "sqlite:///from-env.db"
    assert settings.tracking.parked_timeout_hours == 3


def test_a_bad_environment_override_is_named_by_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no hub.toml here
    monkeypatch.setenv("HUB_TRACKING__PAID_NOT_SHIPPED_HOURS", "-1")
    with pytest.raises(
        ConfigError, match=r"^environment: HUB_TRACKING__PAID_NOT_SHIPPED_HOURS: .*'-1'"
    ) as error:
        load_settings()
    assert "hub.toml" not in str(error.value)


def test_payment_tolerances_need_a_currency_code_and_an_amount_of_zero_or_more(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('[tracking]\npayment_tolerance = {EUR = "0.02", JPY = "1"}\n')
    assert load_settings(config).tracking.tolerance().allowed("EUR", 3) == Decimal("0.06")
    config.write_text('[tracking]\npayment_tolerance = {euro = "0.02"}\n')
    with pytest.raises(
        ConfigError, match=r"hub.toml: tracking.payment_tolerance: .*'euro' is not an ISO 4217"
    ):
        load_settings(config)


def test_the_starter_file_is_the_defaults_with_every_key_described(tmp_path: Path) -> None:
    """``hub init`` writes the settings' own declarations: loaded back it is exactly the
    defaults, and every key of every table is in it (set, or commented when unset)."""
    import tomllib

    from pydantic import BaseModel

    from hub.settings import HubSettings
    from hub.settings_starter import starter_file

    text = starter_file()
    (tmp_path / "hub.toml").write_text(text)
    assert load_settings(tmp_path / "hub.toml").model_dump() == HubSettings().model_dump()
    assert tomllib.loads(text)  # valid TOML as written

    def keys(model: type[BaseModel]) -> set[str]:
        found = set()
        for name, field in model.model_fields.items():
            found.add(name)
            kind = field.annotation
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                found |= keys(kind)
        return found

    from hub.settings import SystemConfig

    missing = {k for k in keys(HubSettings) | keys(SystemConfig) if k not in text}
    assert not missing, missing
