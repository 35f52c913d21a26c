"""Transports: how messages reach the hub (webhooks, files). No business logic lives here."""
