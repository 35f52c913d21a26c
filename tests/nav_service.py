"""A Dynamics-NAV-style page web service, answering the real NAV CustomerList WSDL.

NAV pages do not page by number or by change time: ``ReadMultiple`` takes filters, a
``bookmarkKey`` (the key of the last record read) and a ``setSize``. The service below reads
the request with lxml and answers in the WSDL's own namespace, so zeep meets exactly the shape
a NAV server produces — a second ERP the adapter must handle with configuration and mappings only.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lxml import etree

from simulators.erp.server import LoopbackServer

__all__ = ["NAV_WSDL", "NavPageService"]

NAV_WSDL = Path(__file__).parent / "fixtures" / "soap-wsdl" / "nav-page-CustomerList.wsdl"
NS = "urn:microsoft-dynamics-schemas/page/customerlist"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


class NavPageService:
    def __init__(self, customers: dict[str, str]) -> None:
        self.customers = dict(customers)  # No -> Name
        self.requests: list[dict[str, Any]] = []
        self._server = LoopbackServer(self._app)

    @property
    def url(self) -> str:
        return f"{self._server.base_url}/DynamicsNAV/WS/CRONUS/Page/CustomerList"

    def __enter__(self) -> NavPageService:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    def _app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        request = etree.fromstring(body).find(f".//{{{NS}}}ReadMultiple")
        filters = [
            (f.findtext(f"{{{NS}}}Field"), f.findtext(f"{{{NS}}}Criteria"))
            for f in request.findall(f"{{{NS}}}filter")
        ]
        bookmark = request.findtext(f"{{{NS}}}bookmarkKey")
        size = int(request.findtext(f"{{{NS}}}setSize"))
        self.requests.append({"filters": filters, "bookmark": bookmark, "size": size})
        rows = sorted(self.customers.items())
        for field, criteria in filters:
            index = 0 if field == "No" else 1
            rows = [r for r in rows if fnmatch.fnmatch(r[index], criteria or "*")]
        if bookmark:
            rows = [r for r in rows if r[0] > bookmark]
        rows = rows[:size]
        envelope = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"soap": SOAP})
        result = etree.SubElement(
            etree.SubElement(envelope, f"{{{SOAP}}}Body"), f"{{{NS}}}ReadMultiple_Result"
        )
        listing = etree.SubElement(result, f"{{{NS}}}ReadMultiple_Result")
        for number, name in rows:
            customer = etree.SubElement(listing, f"{{{NS}}}CustomerList")
            etree.SubElement(customer, f"{{{NS}}}No").text = number
            etree.SubElement(customer, f"{{{NS}}}Name").text = name
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8")])
        return [etree.tostring(envelope, xml_declaration=True, encoding="utf-8")]
