"""Fetching a text document from a URL outside, safely: the one seam for URLs that are not a repository
host's API (issue #14: API definitions given as `$text`/`$json`/`$yaml` placeholders with a URL).

Called by workers only, never inside a web request. Every hop (the first request and each redirect) is
checked the same way before anything is sent:

- Scheme: https only. No setting turns plain http on: every address fetched from is a public one (below),
  where https is always available, and a definition read over http could be altered by anyone on the
  path. Tests pass `schemes=` to reach a plain HTTP server of their own.
- No user name or password in the URL; nothing of ours (no token, no cookie) is ever sent.
- The host must be on the allowlist: exact host names, case-insensitive; an entry `host` allows the
  scheme's own port only, `host:port` that port.
- The name is resolved here, and if ANY address it resolves to is not a public one (loopback, private,
  link-local, multicast, reserved, unspecified, shared 100.64/10, site-local, or such an IPv4 address
  inside IPv6: mapped, 6to4, NAT64) the fetch is refused. The connection then goes to a checked
  address itself, so a name that resolves differently a moment later (DNS rebinding) cannot move it;
  the request still names the host (Host header, TLS SNI) and the certificate is verified for the
  host name, not the address.
- Redirects are followed by hand, at most `max_redirects`, each new URL checked as above.

One deadline bounds everything (name resolution, connecting, TLS, the request, headers and body,
across redirects): each socket operation may wait only for what is left of it, so a server sending one
byte a second is cut at the deadline, not kept alive by a per-read timeout. At most `max_bytes` are
read, counted while reading (a Content-Length may lie). The answer must be UTF-8 text.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import ipaddress
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import cache
from urllib.parse import quote, urljoin, urlsplit

from django.conf import settings

from services.hosts.base import HostError
from services.hosts.secrets import redact

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
AddressCheck = Callable[[IPAddress], str | None]

DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
# Worth asking again later (the next refresh does): the server is busy or failing, not refusing.
TRANSIENT_STATUSES = (408, 425, 429, 500, 502, 503, 504)
MAX_URL_LENGTH = 2000
READ_CHUNK = 64 * 1024
USER_AGENT = "Slipway (definition fetch)"

_HOST_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")
# The kinds of address refused, in the order a reason is given (127.0.0.1 is loopback before private).
_REFUSED_KINDS = (
    ("is_unspecified", "an unspecified address"),
    ("is_loopback", "a loopback address"),
    ("is_link_local", "a link-local address"),
    ("is_multicast", "a multicast address"),
    ("is_site_local", "a site-local address"),
    ("is_private", "a private address"),
    ("is_reserved", "a reserved address"),
)


class FetchRefused(HostError):
    """The document was not fetched; `reason` says why in a sentence a person can act on. `transient`:
    the server or the network failed (timeouts, 5xx, refused connections), asking again later may work."""

    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


@dataclass(frozen=True)
class FetchedText:
    """A fetched document: its text, the URL that answered (after redirects) and its ETag; with
    `not_modified` (the ETag asked with still matches) there is no text: keep the one you have."""

    text: str
    final_url: str
    etag: str = ""
    not_modified: bool = False


# ---------------------------------------------------------------------------------------------
# Which hosts and addresses.


def host_entry(value: str) -> str:
    """An allowlist entry as compared: lower case, IDNA, no trailing dot; `host`, `host:port`, `[v6]:port`."""
    text = value.strip().lower()
    port = ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host = text  # a name, or an IPv6 address written without brackets
    host = host.rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    else:
        with contextlib.suppress(UnicodeError):  # left as written: it never matches a checked URL's host
            host = host.encode("idna").decode("ascii")
    return f"{host}:{int(port)}" if port.isdigit() else host


def definition_hosts(repository_host: str | None) -> frozenset[str]:
    """The hosts definitions may be fetched from for a descriptor in a repository on `repository_host`
    (e.g. `github.com`): that host and the ones in SLIPWAY_DEFINITION_HOSTS."""
    hosts = {host_entry(entry) for entry in settings.SLIPWAY_DEFINITION_HOSTS if entry.strip()}
    if repository_host and repository_host.strip():
        hosts.add(host_entry(repository_host))
    return frozenset(hosts)


def address_refusal(address: IPAddress) -> str | None:
    """Why a connection to `address` is refused ("a private address"), or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:  # the IPv4 address is where the packets go (NAT64 is reserved, yet public)
            inner = address_refusal(embedded)
            return None if inner is None else f"{inner} ({embedded} inside IPv6)"
    for attribute, kind in _REFUSED_KINDS:
        if getattr(address, attribute, False):
            return kind
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if not address.is_global:
        return "not a public address"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system's resolver gives for `host`, in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@cache
def _default_ssl_context() -> ssl.SSLContext:
    context = ssl.create_default_context()  # the system's trust store: a company's own CA included
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


# ---------------------------------------------------------------------------------------------
# One deadline for everything.


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def exceeded(self) -> FetchRefused:
        return FetchRefused(f"took longer than {self.seconds:g} s", transient=True)

    def remaining(self) -> float:
        """Seconds left; FetchRefused when none are."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise self.exceeded()
        return left


class _DeadlineReader(io.RawIOBase):
    """The socket as http.client reads it: each read waits only for what is left of the deadline."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        super().__init__()
        self.sock = sock
        self.deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        self.sock.settimeout(self.deadline.remaining())
        return self.sock.recv_into(buffer)


class _DeadlineSocket:
    """What http.client sees of the connection: sends and reads bounded by the one deadline."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        self.sock = sock
        self.deadline = deadline

    def sendall(self, data: bytes) -> None:
        self.sock.settimeout(self.deadline.remaining())
        self.sock.sendall(data)

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self.sock, self.deadline), READ_CHUNK)

    def close(self) -> None:
        """Left to the caller: http.client closes its side once the headers say `Connection: close`, while
        the body is still to be read from the same socket."""


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP connection over a socket already opened to a checked address: it never connects itself."""

    def __init__(self, host: str, port: int, sock: _DeadlineSocket) -> None:
        super().__init__(host, port)
        self.sock = sock  # type: ignore[assignment]

    def connect(self) -> None:
        raise http.client.NotConnected("a pinned connection does not reconnect")


# ---------------------------------------------------------------------------------------------
# The steps of one hop.


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str  # lower case, IDNA-encoded, IPv6 without brackets
    port: int
    request_target: str  # path and query

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def _shown(url: str) -> str:
    """A URL for a message: credentials out, cut short."""
    url = redact(url)
    return url if len(url) <= 200 else url[:197] + "..."


def _host_name(hostname: str) -> str:
    """A host name as it is resolved and compared (IDNA, lower case), or FetchRefused."""
    try:
        host = hostname.encode("idna").decode("ascii").lower()
    except UnicodeError:
        host = ""
    if not _HOST_NAME.match(host):
        raise FetchRefused(f"{hostname[:100]!r} is not a valid host name")
    return host


def _checked_target(url: str, *, allowed: frozenset[str], schemes: Collection[str]) -> _Target:
    """The URL taken apart, or FetchRefused: scheme, credentials, host name, port, allowlist."""
    if not isinstance(url, str) or not url:
        raise FetchRefused("no URL")
    if len(url) > MAX_URL_LENGTH:
        raise FetchRefused(f"the URL is longer than {MAX_URL_LENGTH:,} characters")
    if any(ord(character) < 33 or ord(character) == 127 for character in url):
        raise FetchRefused(f"{_shown(url)!r} has spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchRefused(f"{_shown(url)!r} is not a well-formed URL") from None
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        raise FetchRefused(f"scheme {scheme!r} refused (only {', '.join(sorted(schemes))})")
    if parts.username is not None or parts.password is not None:
        raise FetchRefused("a URL with a user name or password in it is refused: definitions are fetched "
                           "anonymously (put files of private repositories next to the descriptor instead)")
    hostname = (parts.hostname or "").rstrip(".")
    if not hostname:
        raise FetchRefused(f"{_shown(url)!r} names no host")
    try:
        host = str(ipaddress.ip_address(hostname))
    except ValueError:
        host = _host_name(hostname)
    port = port or DEFAULT_PORTS[scheme]
    entry = f"[{host}]" if ":" in host else host
    if not ((entry in allowed and port == DEFAULT_PORTS[scheme]) or f"{entry}:{port}" in allowed):
        shown = entry if port == DEFAULT_PORTS[scheme] else f"{entry}:{port}"
        raise FetchRefused(f"host {shown!r} is not in SLIPWAY_DEFINITION_HOSTS (nor is it the repository's host)")
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    query = quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    return _Target(url=url, scheme=scheme, host=host, port=port,
                   request_target=path + (f"?{query}" if query else ""))


def _resolve(resolver: Resolver, target: _Target, deadline: _Deadline) -> list[str]:
    """The host's addresses, asked in a thread so that a hung resolver cannot outlive the deadline."""
    try:
        return [str(ipaddress.ip_address(target.host))]  # an address in the URL: nothing to resolve
    except ValueError:
        pass
    outcome: dict[str, object] = {}

    def ask() -> None:
        try:
            outcome["addresses"] = list(resolver(target.host, target.port))
        except Exception as error:  # handed to the caller below
            outcome["error"] = error

    thread = threading.Thread(target=ask, name="slipway-resolve", daemon=True)
    thread.start()
    thread.join(deadline.remaining())
    if thread.is_alive():
        raise deadline.exceeded()
    error = outcome.get("error")
    if isinstance(error, OSError):
        raise FetchRefused(f"{target.host!r} cannot be resolved: {error.strerror or error}", transient=True)
    if error is not None:
        raise FetchRefused(f"{target.host!r} cannot be resolved: {type(error).__name__}", transient=True)
    addresses = outcome.get("addresses")
    if not isinstance(addresses, list) or not addresses:
        raise FetchRefused(f"{target.host!r} resolves to no address", transient=True)
    return [str(address) for address in addresses]


def _checked_addresses(addresses: list[str], target: _Target, address_check: AddressCheck) -> list[IPAddress]:
    """Every address, parsed; FetchRefused if any one of them is not a public address."""
    literal = addresses == [target.host]
    checked: list[IPAddress] = []
    for text in addresses:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise FetchRefused(f"{target.host!r} resolves to {text[:60]!r}, which is not an IP address") from None
        refusal = address_check(address)
        if refusal is not None:
            raise FetchRefused(f"{address} is {refusal}" if literal else
                               f"{target.host!r} resolves to {address}, {refusal}")
        checked.append(address)
    return checked


def _connect(addresses: list[IPAddress], target: _Target, deadline: _Deadline,
             ssl_context: ssl.SSLContext) -> socket.socket:
    """A socket to the first checked address that answers, TLS verified for the host name when https."""
    failure = ""
    for address in addresses:
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(deadline.remaining())
            sock.connect((str(address), target.port))
        except TimeoutError:
            sock.close()
            deadline.remaining()  # the deadline, if that is what passed
            failure = f"{address}: timed out"
            continue
        except OSError as error:
            sock.close()
            failure = f"{address}: {error.strerror or error}"
            continue
        if target.scheme != "https":
            return sock
        try:
            tls = ssl_context.wrap_socket(sock, server_hostname=target.host, do_handshake_on_connect=False)
            tls.settimeout(deadline.remaining())
            tls.do_handshake()
        except ssl.SSLCertVerificationError as error:
            sock.close()
            raise FetchRefused(f"the TLS certificate of {target.host!r} is not valid: "
                               f"{error.verify_message or error.reason}") from None
        except TimeoutError:
            sock.close()
            raise deadline.exceeded() from None
        except (ssl.SSLError, OSError) as error:
            sock.close()
            raise FetchRefused(f"the TLS handshake with {target.host!r} failed: {error}", transient=True) from None
        return tls
    raise FetchRefused(f"could not connect to {target.host!r} ({failure})", transient=True)


def _read_body(response: http.client.HTTPResponse, max_bytes: int) -> bytes:
    """The body, refused as soon as it is larger than `max_bytes`, whatever Content-Length said."""
    too_large = FetchRefused(f"larger than {max_bytes:,} bytes")
    declared = (response.getheader("Content-Length") or "").strip()
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = response.read(min(READ_CHUNK, max_bytes + 1 - total))
        if not chunk:
            if response.length:  # http.client's read(amt) says nothing when the body ends short of its length
                raise http.client.IncompleteRead(b"".join(chunks), response.length)
            return b"".join(chunks)
        total += len(chunk)
        if total > max_bytes:
            raise too_large
        chunks.append(chunk)


def _decoded(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FetchRefused("not UTF-8 text") from None
    if "\x00" in text:
        raise FetchRefused("not UTF-8 text (it holds NUL characters: a binary file?)")
    return text


# ---------------------------------------------------------------------------------------------
# The seam.


def fetch_text(url: str, *, allowed_hosts: Collection[str], max_bytes: int, deadline_seconds: float,
               max_redirects: int = 3, resolver: Resolver = system_resolver, etag: str = "",
               address_check: AddressCheck = address_refusal, schemes: Collection[str] = ("https",),
               ssl_context: ssl.SSLContext | None = None) -> FetchedText:
    """The text at `url`, fetched within `deadline_seconds` and `max_bytes` from an allowed host on a public
    address (see the module's docstring); `not_modified` when `etag` is given and still matches. Raises
    FetchRefused with the reason.

    `address_check`, `schemes` and `ssl_context` exist for tests (a server on loopback, plain HTTP, a
    test certificate authority); production callers leave them alone.
    """
    deadline = _Deadline(deadline_seconds)
    allowed = frozenset(host_entry(entry) for entry in allowed_hosts)
    context = ssl_context or _default_ssl_context()
    current = url
    for hop in range(max_redirects + 1):
        try:
            target = _checked_target(current, allowed=allowed, schemes=schemes)
            addresses = _checked_addresses(_resolve(resolver, target, deadline), target, address_check)
        except FetchRefused as refused:
            if hop == 0 or refused.transient:
                raise
            raise FetchRefused(f"redirect to {_shown(current)} refused: {refused.reason}") from None
        status, location, fetched = _request(target, addresses, deadline, context, etag=etag, max_bytes=max_bytes)
        if status in REDIRECT_STATUSES:
            if not location:
                raise FetchRefused(f"HTTP {status} without a Location to go to")
            current = urljoin(current, location.strip())
            continue
        assert fetched is not None  # every other status was refused or followed
        logger.info("fetch.done", extra={"host": target.host, "status": status, "redirects": hop,
                                         "characters": len(fetched.text)})
        return FetchedText(text=fetched.text, final_url=current, etag=fetched.etag,
                           not_modified=fetched.not_modified)
    raise FetchRefused(f"more than {max_redirects} redirects")


def _request(target: _Target, addresses: list[IPAddress], deadline: _Deadline, context: ssl.SSLContext, *,
             etag: str, max_bytes: int) -> tuple[int, str, FetchedText | None]:
    """One GET to a checked address: (status, Location, the document unless it is a redirect)."""
    sock = _connect(addresses, target, deadline, context)
    connection = _PinnedConnection(target.host, target.port, _DeadlineSocket(sock, deadline))
    try:
        connection.putrequest("GET", target.request_target, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", target.host_header)
        connection.putheader("Accept-Encoding", "identity")
        connection.putheader("User-Agent", USER_AGENT)
        if etag:
            connection.putheader("If-None-Match", etag)
        connection.endheaders()
        response = connection.getresponse()
        status = response.status
        if status in REDIRECT_STATUSES:
            return status, response.getheader("Location") or "", None
        answered_etag = (response.getheader("ETag") or "").strip()
        if status == 304 and etag:
            return status, "", FetchedText(text="", final_url=target.url, etag=answered_etag or etag,
                                           not_modified=True)
        if status not in (200, 203):
            raise FetchRefused(f"HTTP {status}", transient=status in TRANSIENT_STATUSES)
        encoding = (response.getheader("Content-Encoding") or "identity").strip().lower()
        if encoding != "identity":
            raise FetchRefused(f"the answer is encoded ({encoding}) although none was asked for")
        text = _decoded(_read_body(response, max_bytes))
        return status, "", FetchedText(text=text, final_url=target.url, etag=answered_etag)
    except TimeoutError:
        raise deadline.exceeded() from None
    except http.client.IncompleteRead as error:
        raise FetchRefused(f"the answer ended early ({len(error.partial):,} bytes read)", transient=True) from None
    except http.client.HTTPException as error:
        raise FetchRefused(f"{target.host!r} did not answer in HTTP ({type(error).__name__})") from None
    except OSError as error:
        raise FetchRefused(f"the connection to {target.host!r} failed: {error.strerror or error}",
                           transient=True) from None
    finally:
        connection.close()
        sock.close()
