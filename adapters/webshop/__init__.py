"""Web-shop webhooks (Shopify, WooCommerce): signature checks and the receiving endpoint."""

from adapters.webshop.receiver import WebhookHealth, webhook_router, webhook_secrets
from adapters.webshop.signatures import SIGNATURE_CHECKS, SignatureCheck

__all__ = ["SIGNATURE_CHECKS", "SignatureCheck", "WebhookHealth", "webhook_router", "webhook_secrets"]
