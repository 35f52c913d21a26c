"""Webhook signatures as the platforms document them: base64 HMAC-SHA256 of the raw body.

Shopify sends it in ``X-Shopify-Hmac-Sha256``, WooCommerce in ``X-WC-Webhook-Signature``, carrier
tracking feeds in ``X-Carrier-Signature``; all are computed over the exact bytes received, so
verification happens before any parsing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

__all__ = ["SIGNATURE_CHECKS", "SignatureCheck", "sign"]


def sign(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class SignatureCheck:
    header: str
    topic_header: str

    def verify(self, secret: str, body: bytes, signature: str | None) -> str | None:
        """None when the signature is right, otherwise the reason to refuse the request."""
        if not signature:
            return f"missing {self.header} header"
        if not hmac.compare_digest(sign(secret, body), signature.strip()):
            return f"{self.header} does not match the body (wrong secret or altered body)"
        return None


SIGNATURE_CHECKS = {
    "shopify": SignatureCheck("X-Shopify-Hmac-Sha256", "X-Shopify-Topic"),
    "woocommerce": SignatureCheck("X-WC-Webhook-Signature", "X-WC-Webhook-Topic"),
    # Parcel tracking events (a carrier, or a tracking aggregator in front of several).
    "carrier": SignatureCheck("X-Carrier-Signature", "X-Carrier-Event"),
}
