"""A Salesforce-style CRM answering the real Enterprise WSDL (API v27) over HTTP.

The service reads requests with lxml and answers in the WSDL's own namespaces, so zeep meets
exactly the shape Salesforce produces: ``login`` returns a session id and the server URL to use,
every other call needs the session in a ``SessionHeader``; ``query``/``queryMore`` page with
query locators; ``getUpdated`` lists ids changed in a window (at most 30 days back) and
``retrieve`` reads them; records come typed (``xsi:type="sf:Contact"``) with their fields in the
WSDL's order. Faults use Salesforce's codes (``sf:INVALID_SESSION_ID``, ``sf:MALFORMED_QUERY``,
``sf:INVALID_REPLICATION_DATE``, …). Only the SOQL the hub sends is understood: ``SELECT fields
FROM Object [WHERE field >=|>|=|<|<= literal] [ORDER BY field] [LIMIT n]``.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from simulators.crm.book import OBJECTS, CrmBook
from simulators.erp.server import LoopbackServer

__all__ = ["WSDL", "CrmSimulator"]

WSDL = Path(__file__).with_name("salesforce-enterprise-v27.wsdl")
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
API = "urn:enterprise.soap.sforce.com"
SOBJECT = "urn:sobject.enterprise.soap.sforce.com"
FAULT = "urn:fault.enterprise.soap.sforce.com"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
LOGIN_PATH = "/services/Soap/c/27.0"
_SOQL = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<kind>\w+)"
    r"(?:\s+WHERE\s+(?P<field>\w+)\s*(?P<op>>=|<=|>|<|=)\s*(?P<value>\S+))?"
    r"(?:\s+ORDER\s+BY\s+(?P<order>\w+)(?:\s+(?P<direction>ASC|DESC))?)?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_COMPARE = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    "=": lambda a, b: a == b,
}


class SalesforceFault(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@cache
def field_order(kind: str) -> tuple[str, ...]:
    """The fields of an object type in the order the WSDL's sequence declares them."""
    tree = etree.parse(str(WSDL))
    xsd = "http://www.w3.org/2001/XMLSchema"
    found = tree.find(
        f".//{{{xsd}}}schema[@targetNamespace='{SOBJECT}']/{{{xsd}}}complexType[@name='{kind}']"
    )
    if found is None:
        raise KeyError(kind)
    return ("fieldsToNull", "Id", *(e.get("name") for e in found.iter(f"{{{xsd}}}element")))


class CrmSimulator:
    """A running CRM: ``with CrmSimulator(book) as crm: crm.login_url …``.

    ``calls`` counts operations served; ``expire_sessions()`` ends every session (the next call
    gets ``INVALID_SESSION_ID``); ``fail_next(operation)`` answers that operation once with an
    HTTP 500 page, as a proxy in front of a busy org does.
    """

    def __init__(
        self,
        book: CrmBook | None = None,
        *,
        username: str = "integration@example.com",
        password: str = "hub-demo",
        batch_size: int = 500,
        port: int = 0,
    ) -> None:
        self.book = book or CrmBook()
        self.username, self.password, self.batch_size = username, password, batch_size
        self.calls: Counter[str] = Counter()
        self.sessions: set[str] = set()
        self._locators: dict[str, tuple[list[dict[str, Any]], list[str], str, int]] = {}
        self._failing: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = LoopbackServer(self._app, port)

    @property
    def login_url(self) -> str:
        return f"{self._server.base_url}{LOGIN_PATH}"

    def start(self) -> CrmSimulator:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> CrmSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def expire_sessions(self) -> None:
        with self._lock:
            self.sessions.clear()

    def fail_next(self, operation: str, times: int = 1) -> None:
        with self._lock:
            self._failing[operation] += times

    # -- HTTP -----------------------------------------------------------------------------------

    def _app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] == "GET":  # the WSDL, pointing at this server
            text = WSDL.read_bytes().replace(
                b"https://login.salesforce.com" + LOGIN_PATH.encode(), self.login_url.encode()
            )
            start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8")])
            return [text]
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        try:
            envelope = etree.fromstring(body)
            request = envelope.find(f"{{{SOAP}}}Body")[0]
        except (etree.XMLSyntaxError, TypeError, IndexError):
            return self._answer(
                start_response, _fault("INVALID_SOAP", "the request is not a SOAP envelope"), 500
            )
        operation = etree.QName(request).localname
        with self._lock:
            self.calls[operation] += 1
            failing = self._failing[operation] > 0
            if failing:
                self._failing[operation] -= 1
        if failing:
            start_response("500 Internal Server Error", [("Content-Type", "text/html")])
            return [b"<html><body><h1>500</h1>Service temporarily unavailable</body></html>"]
        try:
            if operation != "login":
                self._check_session(envelope)
            handler = getattr(self, f"_op_{operation}", None)
            if handler is None:
                raise SalesforceFault("UNSUPPORTED_API_VERSION", f"{operation} is not served by this CRM")
            result = handler(request)
        except SalesforceFault as fault:
            return self._answer(start_response, _fault(fault.code, fault.message), 500)
        response = etree.Element(
            f"{{{SOAP}}}Envelope", nsmap={"soapenv": SOAP, None: API, "sf": SOBJECT, "xsi": XSI}
        )
        wrapper = etree.SubElement(
            etree.SubElement(response, f"{{{SOAP}}}Body"), f"{{{API}}}{operation}Response"
        )
        for element in result:
            wrapper.append(element)
        return self._answer(start_response, response, 200)

    @staticmethod
    def _answer(start_response: Any, envelope: etree._Element, status: int) -> list[bytes]:
        start_response(
            "200 OK" if status == 200 else "500 Internal Server Error",
            [("Content-Type", "text/xml; charset=utf-8")],
        )
        return [etree.tostring(envelope, xml_declaration=True, encoding="utf-8")]

    def _check_session(self, envelope: etree._Element) -> None:
        session = envelope.findtext(f".//{{{API}}}SessionHeader/{{{API}}}sessionId")
        with self._lock:
            known = session in self.sessions
        if not known:
            raise SalesforceFault(
                "INVALID_SESSION_ID", "Invalid Session ID found in SessionHeader: Illegal Session"
            )

    # -- operations -----------------------------------------------------------------------------

    def _op_login(self, request: etree._Element) -> list[etree._Element]:
        if (request.findtext(f"{{{API}}}username"), request.findtext(f"{{{API}}}password")) != (
            self.username,
            self.password,
        ):
            raise SalesforceFault(
                "INVALID_LOGIN", "Invalid username, password, security token; or user locked out."
            )
        session = secrets.token_hex(24)
        with self._lock:
            self.sessions.add(session)
        result = etree.Element(f"{{{API}}}result")
        for name, value in (
            ("metadataServerUrl", f"{self._server.base_url}/services/Soap/m/27.0/00D5g000000HUB"),
            ("passwordExpired", "false"),
            ("sandbox", "true"),
            ("serverUrl", f"{self._server.base_url}/services/Soap/c/27.0/00D5g000000HUB"),
            ("sessionId", session),
            ("userId", "0055g000000HUBAAA"),
        ):
            etree.SubElement(result, f"{{{API}}}{name}").text = value
        return [result]

    def _op_query(self, request: etree._Element) -> list[etree._Element]:
        text = request.findtext(f"{{{API}}}queryString") or ""
        parsed = _SOQL.match(text)
        if parsed is None:
            raise SalesforceFault("MALFORMED_QUERY", f"unexpected token in: {text!r}")
        kind = parsed["kind"]
        if kind not in OBJECTS:
            raise SalesforceFault("INVALID_TYPE", f"sObject type '{kind}' is not supported.")
        fields = [f.strip() for f in parsed["fields"].split(",")]
        known = set(field_order(kind))
        for name in [*fields, parsed["field"], parsed["order"]]:
            if name and name not in known:
                raise SalesforceFault("INVALID_FIELD", f"No such column '{name}' on entity '{kind}'.")
        rows = self.book.records(kind)
        if parsed["field"]:
            literal = _literal(parsed["value"])
            compare = _COMPARE[parsed["op"]]
            rows = [
                r for r in rows if r.get(parsed["field"]) is not None and compare(r[parsed["field"]], literal)
            ]
        if parsed["order"]:
            rows.sort(
                key=lambda r: (r.get(parsed["order"]) is None, r.get(parsed["order"]) or "", r["Id"]),
                reverse=(parsed["direction"] or "").upper() == "DESC",
            )
        if parsed["limit"]:
            rows = rows[: int(parsed["limit"])]
        return [self._query_result(rows, fields, kind, 0)]

    def _op_queryMore(self, request: etree._Element) -> list[etree._Element]:
        locator = request.findtext(f"{{{API}}}queryLocator") or ""
        with self._lock:
            found = self._locators.pop(locator, None)
        if found is None:
            raise SalesforceFault("INVALID_QUERY_LOCATOR", "invalid query locator")
        rows, fields, kind, offset = found
        return [self._query_result(rows, fields, kind, offset)]

    def _query_result(
        self, rows: list[dict[str, Any]], fields: list[str], kind: str, offset: int
    ) -> etree._Element:
        batch = rows[offset : offset + self.batch_size]
        done = offset + len(batch) >= len(rows)
        result = etree.Element(f"{{{API}}}result")
        etree.SubElement(result, f"{{{API}}}done").text = "true" if done else "false"
        locator = etree.SubElement(result, f"{{{API}}}queryLocator")
        if done:
            locator.set(f"{{{XSI}}}nil", "true")
        else:
            locator.text = f"01g5g000000{secrets.token_hex(2).upper()}-{offset + len(batch)}"
            with self._lock:
                self._locators[locator.text] = (rows, fields, kind, offset + len(batch))
        for row in batch:
            result.append(_sobject("records", kind, row, fields))
        etree.SubElement(result, f"{{{API}}}size").text = str(len(rows))
        return result

    def _op_retrieve(self, request: etree._Element) -> list[etree._Element]:
        kind = request.findtext(f"{{{API}}}sObjectType") or ""
        if kind not in OBJECTS:
            raise SalesforceFault("INVALID_TYPE", f"sObject type '{kind}' is not supported.")
        fields = [f.strip() for f in (request.findtext(f"{{{API}}}fieldList") or "").split(",") if f.strip()]
        ids = [i.text or "" for i in request.findall(f"{{{API}}}ids")]
        if len(ids) > 2000:
            raise SalesforceFault(
                "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 2000 records"
            )
        stored = self.book.objects[kind]
        answers = []
        for record_id in ids:
            if record_id in stored:
                answers.append(
                    _sobject("result", kind, self.book.get(kind, record_id), fields, namespace=API)
                )
            else:
                missing = etree.Element(f"{{{API}}}result")
                missing.set(f"{{{XSI}}}nil", "true")
                answers.append(missing)
        return answers

    def _op_getUpdated(self, request: etree._Element) -> list[etree._Element]:
        kind = request.findtext(f"{{{API}}}sObjectType") or ""
        if kind not in OBJECTS:
            raise SalesforceFault("INVALID_TYPE", f"sObject type '{kind}' is not supported.")
        start = _literal(request.findtext(f"{{{API}}}startDate") or "")
        end = _literal(request.findtext(f"{{{API}}}endDate") or "")
        now = datetime.now(UTC)
        if start < now - timedelta(days=30):
            raise SalesforceFault("INVALID_REPLICATION_DATE", "startDate cannot be more than 30 days ago")
        if end <= start:
            raise SalesforceFault("INVALID_REPLICATION_DATE", "endDate must be after startDate")
        end = min(end, now)
        result = etree.Element(f"{{{API}}}result")
        for row in sorted(self.book.records(kind), key=lambda r: (r["SystemModstamp"], r["Id"])):
            if start <= row["SystemModstamp"] < end:
                etree.SubElement(result, f"{{{API}}}ids").text = row["Id"]
        etree.SubElement(result, f"{{{API}}}latestDateCovered").text = _text(end)
        return [result]

    def _op_getServerTimestamp(self, request: etree._Element) -> list[etree._Element]:
        result = etree.Element(f"{{{API}}}result")
        etree.SubElement(result, f"{{{API}}}timestamp").text = _text(datetime.now(UTC))
        return [result]


def _sobject(
    tag: str, kind: str, row: dict[str, Any], fields: list[str], namespace: str = API
) -> etree._Element:
    element = etree.Element(f"{{{namespace}}}{tag}")
    element.set(f"{{{XSI}}}type", f"sf:{kind}")
    wanted = {"Id", *fields}
    for name in field_order(kind):
        if name in wanted and row.get(name) is not None:
            etree.SubElement(element, f"{{{SOBJECT}}}{name}").text = _text(row[name])
    return element


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _literal(text: str) -> Any:
    """A SOQL or xsd:dateTime literal as a comparable value."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        pass
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1]
    raise SalesforceFault("MALFORMED_QUERY", f"value of filter criterion is not of the expected type: {text}")


def _fault(code: str, message: str) -> etree._Element:
    envelope = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"soapenv": SOAP, "sf": FAULT, "xsi": XSI})
    fault = etree.SubElement(etree.SubElement(envelope, f"{{{SOAP}}}Body"), f"{{{SOAP}}}Fault")
    etree.SubElement(fault, "faultcode").text = f"sf:{code}"
    etree.SubElement(fault, "faultstring").text = f"{code}: {message}"
    detail = etree.SubElement(etree.SubElement(fault, "detail"), f"{{{FAULT}}}UnexpectedErrorFault")
    detail.set(f"{{{XSI}}}type", "sf:UnexpectedErrorFault")
    etree.SubElement(detail, f"{{{FAULT}}}exceptionCode").text = code
    etree.SubElement(detail, f"{{{FAULT}}}exceptionMessage").text = message
    return envelope
