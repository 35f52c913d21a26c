"""The demo: simulated shops and a feedback export driven through a real hub server."""

from simulators.traffic import Traffic, Webhook, simulate

__all__ = ["Traffic", "Webhook", "simulate"]
