"""A zeep client for one configured SOAP source: timeouts, credentials, retries, plain results.

Everything a caller needs to know about a failed call is in ``SoapCallFailed``: whether it is
worth trying again (timeouts, dropped connections, 5xx, server faults, unreadable answers) or
the source refused the request itself (a ``Client`` fault: retrying cannot help).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, TypeVar

import requests
from lxml import etree
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential
from zeep import Client, Settings
from zeep.exceptions import Error as ZeepError
from zeep.exceptions import Fault, TransportError, XMLSyntaxError
from zeep.helpers import serialize_object
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from adapters.soap.settings import SoapSource
from hub.mapping.paths import compile_path
from hub.settings import ConfigError

__all__ = ["SoapCallFailed", "SoapClient", "plain", "render_request"]

T = TypeVar("T")


class SoapCallFailed(Exception):
    """One operation that did not produce an answer the hub can use."""

    def __init__(self, operation: str, kind: str, detail: str, *, transient: bool) -> None:
        super().__init__(f"{operation}: {kind}: {detail}")
        self.operation, self.kind, self.detail, self.transient = operation, kind, detail, transient


def render_request(template: Any, values: dict[str, Any]) -> Any:
    """Fill ``{since}``, ``{page}``, … into the configured request; a value that is exactly one
    placeholder keeps its type, and an argument whose placeholder is empty is left out."""
    if isinstance(template, dict):
        rendered = {key: render_request(value, values) for key, value in template.items()}
        return {key: value for key, value in rendered.items() if value is not _OMIT}
    if isinstance(template, list):
        return [item for item in (render_request(v, values) for v in template) if item is not _OMIT]
    if isinstance(template, str):
        if template.startswith("{") and template.endswith("}") and template[1:-1] in values:
            value = values[template[1:-1]]
            return _OMIT if value is None else value
        return template.format_map({k: "" if v is None else v for k, v in values.items()})
    return template


_OMIT = object()


def plain(value: Any) -> Any:
    """A zeep result as JSON-ready dicts, lists, strings and numbers (what mappings read)."""
    value = serialize_object(value, dict)
    return _jsonable(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, etree._Element):
        return etree.tostring(value, encoding="unicode")
    return value


def _credentials(source: SoapSource, system: str) -> tuple[str, str]:
    values = []
    for setting in ("username_env", "password_env"):
        variable = getattr(source, setting)
        if not variable:
            raise ConfigError(f"systems.{system}.soap.{setting}: required for auth = {source.auth!r}")
        value = os.environ.get(variable)
        if value is None:
            raise ConfigError(f"systems.{system}.soap.{setting}: environment variable {variable} is not set")
        values.append(value)
    return values[0], values[1]


def _headers(source: SoapSource, system: str) -> dict[str, str]:
    """The source's extra HTTP headers; a value ``env:NAME`` is the environment variable NAME
    (API tokens stay out of hub.toml)."""
    found = {}
    for name, value in source.headers.items():
        if value.startswith("env:"):
            variable = value.removeprefix("env:")
            if variable not in os.environ:
                raise ConfigError(
                    f"systems.{system}.soap.headers.{name}: environment variable {variable} is not set"
                )
            value = os.environ[variable]
        found[name] = value
    return found


def _matches(patterns: list[str], code: str, message: str) -> bool:
    """A fault named in the settings: by its code, or by text its message contains (services
    that answer every fault with one generic code say what happened only in the text)."""
    text = message.casefold()
    return any(pattern == code or pattern.casefold() in text for pattern in patterns)


class _Transport(Transport):
    """zeep's transport, refusing an authentication failure before zeep tries to read it as XML."""

    def post_xml(self, address: str, envelope: Any, headers: dict[str, str]) -> Any:
        response = super().post_xml(address, envelope, headers)
        if response.status_code in (401, 403):
            raise TransportError(
                f"HTTP {response.status_code} from {address}", response.status_code, response.content
            )
        return response


class SoapClient:
    """The configured service of one system, created lazily (the WSDL is fetched on first use)."""

    def __init__(self, system: str, source: SoapSource) -> None:
        self.system, self.source = system, source
        self._service: Any = None
        self._client: Client | None = None

    def _connect(self) -> Any:
        if self._service is not None:
            return self._service
        session = requests.Session()
        session.headers.update(_headers(self.source, self.system))
        wsse = None
        if self.source.auth == "basic":
            session.auth = _credentials(self.source, self.system)
        elif self.source.auth == "wsse":
            user, password = _credentials(self.source, self.system)
            wsse = UsernameToken(user, password)
        transport = _Transport(
            session=session,
            timeout=self.source.timeout_seconds,
            operation_timeout=self.source.operation_timeout_seconds,
        )
        try:
            client = Client(
                self.source.wsdl,
                transport=transport,
                wsse=wsse,
                service_name=self.source.service,
                port_name=self.source.port,
                settings=Settings(strict=False, xml_huge_tree=True),
            )
        except (requests.RequestException, OSError) as error:
            raise SoapCallFailed(
                "WSDL", "unreachable", f"{self.source.wsdl}: {error}", transient=True
            ) from None
        except (ZeepError, etree.Error, ValueError) as error:
            raise SoapCallFailed("WSDL", "invalid", f"{self.source.wsdl}: {error}", transient=False) from None
        service = client.service
        if self.source.address:
            service = client.create_service(service._binding.name.text, self.source.address)
        if self.source.auth == "session":
            service = self._log_in(client, service)
        self._client, self._service = client, service
        return service

    def _log_in(self, client: Client, service: Any) -> Any:
        """Open a session: its id goes into a header of every call, its server answers them."""
        login = self.source.session
        user, password = _credentials(self.source, self.system)
        request = render_request(login.request, {"username": user, "password": password})
        answer = self._invoke(login.operation, getattr(service, login.operation), request)
        session = compile_path(login.session_id)(answer)
        if not session:
            raise SoapCallFailed(
                login.operation, "no session", f"the answer has no {login.session_id!r}", transient=False
            )
        server = compile_path(login.server_url)(answer) if login.server_url else None
        if server:
            service = client.create_service(service._binding.name.text, server)
        client.set_default_soapheaders(render_request(login.header, {"session": session}))
        return service

    def call(self, operation: str, request: dict[str, Any]) -> Any:
        """One call, no retries; the answer as plain data."""
        service = self._connect()
        try:
            method = getattr(service, operation)
        except AttributeError:
            raise SoapCallFailed(
                operation,
                "unknown operation",
                f"the WSDL of {self.system} has no operation {operation!r}",
                transient=False,
            ) from None
        return self._invoke(operation, method, request)

    def _invoke(self, operation: str, method: Callable[..., Any], request: dict[str, Any]) -> Any:
        try:
            return plain(method(**request))
        except Fault as fault:
            code = str(fault.code or "")
            local = code.rsplit(":", 1)[-1]
            message = str(fault.message or "")
            if self.source.auth == "session" and _matches(self.source.session.expired_faults, local, message):
                self._service = None  # the next attempt logs in again
                raise SoapCallFailed(
                    operation, "session expired", str(fault.message), transient=True
                ) from None
            if local.startswith("Client") or _matches(self.source.permanent_faults, local, message):
                raise SoapCallFailed(
                    operation, f"refused ({local})", str(fault.message), transient=False
                ) from None
            if not code:  # an HTTP error page instead of a SOAP fault (zeep reports it as a fault)
                raise SoapCallFailed(operation, "HTTP error", str(fault.message), transient=True) from None
            raise SoapCallFailed(
                operation, f"SOAP fault ({local})", str(fault.message), transient=True
            ) from None
        except requests.Timeout as error:
            raise SoapCallFailed(operation, "timeout", str(error), transient=True) from None
        except requests.RequestException as error:
            raise SoapCallFailed(operation, "connection", str(error), transient=True) from None
        except TransportError as error:
            status = getattr(error, "status_code", None)
            detail = str(error).splitlines()[0]
            if status in (401, 403):  # the same credentials will not work on the next try either
                raise SoapCallFailed(
                    operation, f"not authorised (HTTP {status})", detail, transient=False
                ) from None
            raise SoapCallFailed(
                operation, f"malformed response (HTTP {status})", detail, transient=True
            ) from None
        except (XMLSyntaxError, etree.XMLSyntaxError) as error:
            raise SoapCallFailed(operation, "malformed response", str(error), transient=True) from None
        except (ZeepError, TypeError) as error:
            raise SoapCallFailed(
                operation, "invalid request or response", str(error), transient=False
            ) from None
        except (ValueError, AttributeError, IndexError, KeyError, etree.Error) as error:
            # zeep reading an answer damaged on the way (a tag cut off, an element missing, a
            # body left without its element: IndexError) raises what its parser met; the next
            # attempt may get it whole.
            raise SoapCallFailed(
                operation, "unreadable response", f"{type(error).__name__}: {error}", transient=True
            ) from None

    def retrying(
        self, attempt: Callable[[], T], on_retry: Callable[[SoapCallFailed], None] | None = None
    ) -> T:
        """Run ``attempt`` until it succeeds, with exponential backoff and jitter on transient failures."""

        def report(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            if on_retry is not None and isinstance(error, SoapCallFailed):
                on_retry(error)

        retrying = Retrying(
            stop=stop_after_attempt(self.source.retry_attempts),
            wait=wait_random_exponential(
                multiplier=self.source.backoff_seconds, max=self.source.backoff_max_seconds
            ),
            retry=retry_if_exception(lambda e: isinstance(e, SoapCallFailed) and e.transient),
            before_sleep=report,
            reraise=True,
        )
        return retrying(attempt)
