"""The ``[systems.crm]`` configuration of a Salesforce org (the same as deploy/crm-system.toml).

Accounts and contacts are read with SOQL ``query``/``queryMore`` ordered by ``SystemModstamp``:
the first poll is the initial migration over the API, every later one asks from the newest change
seen. Tasks and cases use ``getUpdated``/``retrieve``, Salesforce's replication calls: the ids
changed in a window (at most 30 days back), then the records in batches of 2,000.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CONTACT_FIELDS", "crm_system"]

ACCOUNT_FIELDS = (
    "Id, Name, Phone, BillingStreet, BillingPostalCode, BillingCity, BillingCountry, SystemModstamp"
)
CONTACT_FIELDS = (
    "Id, AccountId, FirstName, LastName, Email, Phone, MobilePhone, HomePhone, Birthdate, MailingStreet, "
    "MailingPostalCode, MailingCity, MailingCountry, SystemModstamp"
)
TASK_FIELDS = (
    "Id, WhoId, WhatId, Subject, CallType, CallDisposition, CallDurationInSeconds, OwnerId, CreatedDate, "
    "SystemModstamp"
)
CASE_FIELDS = (
    "Id, ContactId, CaseNumber, Type, Status, IsEscalated, Priority, Origin, Subject, OwnerId, CreatedDate, "
    "ClosedDate, SystemModstamp"
)


def _queried(kind: str, fields: str) -> dict[str, Any]:
    return {
        "operation": "query",
        "request": {
            "queryString": (
                f"SELECT {fields} FROM {kind} WHERE SystemModstamp >= {{since}} ORDER BY SystemModstamp"
            )
        },
        "records": "records",
        "paging": "locator",
        "cursor_field": "SystemModstamp",
        "initial_cursor": "2000-01-01T00:00:00Z",
        "more": {"operation": "queryMore", "request": {"queryLocator": "{locator}"}, "records": "records"},
    }


def _replicated(kind: str, fields: str) -> dict[str, Any]:
    return {
        "operation": "getUpdated",
        "request": {"sObjectType": kind, "startDate": "{since}", "endDate": "{now}"},
        "records": "ids",
        "paging": "changes",
        "lookback_days": 29,  # Salesforce keeps 30 days of changes
        "more": {
            "operation": "retrieve",
            "request": {"fieldList": fields, "sObjectType": kind, "ids": "{ids}"},
            "records": "@",
            "batch_size": 2000,
        },
    }


def crm_system(wsdl: str, address: str | None = None, **soap: Any) -> dict[str, Any]:
    return {
        "adapter": "soap",
        "timezone": "UTC",
        "phone_region": "DE",
        "soap": {
            "wsdl": wsdl,
            "address": address,
            "auth": "session",
            "username_env": "CRM_USERNAME",
            "password_env": "CRM_PASSWORD",
            "permanent_faults": [
                "INVALID_LOGIN",
                "MALFORMED_QUERY",
                "INVALID_FIELD",
                "INVALID_TYPE",
                "INVALID_REPLICATION_DATE",
                "EXCEEDED_ID_LIMIT",
            ],
            "entities": {
                "accounts": _queried("Account", ACCOUNT_FIELDS),
                "contacts": _queried("Contact", CONTACT_FIELDS),
                "tasks": _replicated("Task", TASK_FIELDS),
                "cases": _replicated("Case", CASE_FIELDS),
            },
            **soap,
        },
    }
