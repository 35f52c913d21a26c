"""The event mapper that seals personal fields with their subject's key before they are stored.

Only the fields ``aggregates.PERSONAL_FIELDS`` names are sealed (AES-GCM, the subject's id as
associated data, so a sealed value cannot be moved to another subject); the rest of the event
stays readable for projections and audit. The subject is the event's aggregate, or — for events
about a person that belong to another aggregate (an interaction, a service case) — the customer
record their ``personal_subject`` attribute names, whose key then seals them. The hash chain
covers the sealed bytes, so destroying a key changes nothing in the log: replays, rebuilds and
``hub audit verify`` go on working, and the person reads as ``[erased]`` everywhere.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent

from aggregates import PERSONAL_FIELDS, customer_id
from hub.privacy.keys import SubjectKeys

__all__ = ["ERASED", "PrivacyMapper"]

ERASED = "[erased]"
_SEALED = "_sealed_"


class PrivacyMapper(Mapper[UUID]):
    def __init__(self, base: Mapper[UUID], keys: SubjectKeys) -> None:
        super().__init__(transcoder=base.transcoder, compressor=base.compressor, cipher=base.cipher)
        self.keys = keys

    def prepare(self, events: Sequence[DomainEventProtocol[UUID]]) -> None:
        """Make sure every subject in a batch has its key, in one round trip to the key store."""
        subjects = {_subject(e) for e in events if getattr(type(e), "personal", None)}
        if subjects:
            self.keys.ensure(subjects)

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        attribute = getattr(type(domain_event), "personal", None)
        values = getattr(domain_event, attribute, None) if attribute else None
        secret = {k: v for k, v in (values or {}).items() if k in PERSONAL_FIELDS}
        if not secret:
            return super().to_stored_event(domain_event)
        subject = _subject(domain_event)
        key_id, key = self.keys.current(subject)
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(key).encrypt(nonce, json.dumps(secret, default=str).encode(), subject.bytes)
        public = {k: v for k, v in values.items() if k not in secret}
        public[_SEALED] = {
            "key": key_id,
            "fields": sorted(secret),
            "data": base64.b64encode(nonce + sealed).decode(),
        }
        if subject != domain_event.originator_id:
            public[_SEALED]["subject"] = str(subject)
        clone = object.__new__(type(domain_event))
        object.__setattr__(clone, "__dict__", {**vars(domain_event), attribute: public})
        return super().to_stored_event(clone)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        event = super().to_domain_event(stored_event)
        attribute = getattr(type(event), "personal", None)
        values = event.__dict__.get(attribute) if attribute else None
        if isinstance(values, dict) and _SEALED in values:
            subject = values[_SEALED].get("subject")
            event.__dict__[attribute] = self._open(values, UUID(subject) if subject else event.originator_id)
        return event

    def _open(self, values: dict[str, Any], subject: UUID) -> dict[str, Any]:
        envelope = values[_SEALED]
        opened = {k: v for k, v in values.items() if k != _SEALED}
        key = self.keys.key(envelope["key"])
        if key is None:
            opened.update(dict.fromkeys(envelope["fields"], ERASED))
            return opened
        raw = base64.b64decode(envelope["data"])
        opened.update(json.loads(AESGCM(key).decrypt(raw[:12], raw[12:], subject.bytes)))
        return opened


def _subject(event: DomainEventProtocol[UUID]) -> UUID:
    """Whose key seals the event's personal fields."""
    attribute = getattr(type(event), "personal_subject", None)
    record = getattr(event, attribute, None) if attribute else None
    if record:
        system, _, ref = str(record).partition(":")
        return customer_id(system, ref)
    return event.originator_id
