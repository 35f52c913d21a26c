"""The hash chain: one link per recorded event, written in the event's own transaction.

``link(n) = SHA-256(link(n-1) ‖ n ‖ aggregate id ‖ version ‖ topic ‖ stored state)`` — over the
bytes as stored (encrypted personal data included, before any upcasting), so a row changed,
deleted, inserted or moved by plain SQL no longer matches its link, and rewriting the links too
is caught by a checkpoint kept outside the database. The definition lives in
``hub.audit.offline``, the stand-alone verifier an auditor runs without the hub (docs/AUDIT.md).
"""

from hub.audit.offline import GENESIS, link

__all__ = ["GENESIS", "link"]
