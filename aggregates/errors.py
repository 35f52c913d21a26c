"""Domain rule violations: the message was well formed but the business cannot accept it."""

from __future__ import annotations

__all__ = ["DomainRuleViolation"]


class DomainRuleViolation(ValueError):
    """Raised by an aggregate when a command breaks a business rule; becomes a dead letter."""
