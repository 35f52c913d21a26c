"""Audit: the tamper-evident hash chain over the event log, its verification and checkpoints."""
