"""services/hosts/fetch.py against real servers on loopback (issue #14: definitions fetched from URLs).

Loopback is refused in production like every non-public address; these tests reach their servers only
by handing fetch_text a resolver of their own (`defs.example.test` -> 127.0.0.1) and an address check
that lets the loopback addresses they use through. Everything else is the production code path.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import override_settings

from services.hosts.fetch import FetchedText, FetchRefused, address_refusal, definition_hosts, fetch_text

Route = Callable[[BaseHTTPRequestHandler], None]
NAME = "defs.example.test"


class DefinitionServer(ThreadingHTTPServer):
    """An HTTP server whose answers are functions of the test, recording what it was asked."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        super().__init__(address, _Handler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def start(self) -> DefinitionServer:
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: DefinitionServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        route = self.server.routes.get(self.path.split("?")[0])
        if route is None:
            answer(self, 404, b"no such definition")
        else:
            route(self)

    def log_message(self, *args: object) -> None:
        pass


def answer(handler: BaseHTTPRequestHandler, status: int, body: bytes = b"", **headers: str) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(body)


def raw(handler: BaseHTTPRequestHandler, data: bytes) -> None:
    """Bytes written as they are (a lying Content-Length, no length at all), then the connection closed."""
    handler.close_connection = True
    try:
        handler.wfile.write(data)
        handler.wfile.flush()
    except OSError:
        pass


@pytest.fixture
def server() -> Iterator[DefinitionServer]:
    running = DefinitionServer(("127.0.0.1", 0)).start()
    yield running
    running.stop()


def resolver_for(mapping: dict[str, list[str]], calls: list[str] | None = None):
    def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        if host not in mapping:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return mapping[host]
    return resolve


def loopback_allowed(*addresses: str):
    """The production address check, except for the given loopback addresses (the tests' servers)."""
    allowed = {ipaddress.ip_address(a) for a in addresses}
    return lambda address: None if address in allowed else address_refusal(address)


def fetch(server: DefinitionServer, path: str, **options) -> FetchedText:
    """fetch_text of http://defs.example.test:<port><path>, reaching the test server on 127.0.0.1."""
    arguments = {
        "allowed_hosts": [f"{NAME}:{server.port}"], "max_bytes": 1_000_000, "deadline_seconds": 5.0,
        "resolver": resolver_for({NAME: ["127.0.0.1"]}), "address_check": loopback_allowed("127.0.0.1"),
        "schemes": ("http",),
    }
    return fetch_text(f"http://{NAME}:{server.port}{path}", **{**arguments, **options})


def refusal(call: Callable[[], object]) -> FetchRefused:
    with pytest.raises(FetchRefused) as caught:
        call()
    return caught.value


# -- the happy path --------------------------------------------------------------------------------


def test_allowed_host_is_fetched_naming_the_host_not_the_address(server):
    server.routes["/openapi.yaml"] = lambda h: answer(h, 200, b"openapi: 3.0.0\n", ETag='"v1"')

    fetched = fetch(server, "/openapi.yaml")

    assert fetched == FetchedText(text="openapi: 3.0.0\n", final_url=f"http://{NAME}:{server.port}/openapi.yaml",
                                  etag='"v1"', not_modified=False)
    (path, headers), = server.requests
    assert path == "/openapi.yaml"
    assert headers["host"] == f"{NAME}:{server.port}"
    assert headers["accept-encoding"] == "identity"
    assert "authorization" not in headers and "cookie" not in headers


def test_utf8_byte_order_mark_is_dropped(server):
    server.routes["/bom"] = lambda h: answer(h, 200, "\ufeffnom: café".encode())

    assert fetch(server, "/bom").text == "nom: café"


def test_body_without_length_is_read_to_the_end(server):
    body = b"x" * 300_000
    server.routes["/stream"] = lambda h: raw(h, b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body)

    assert fetch(server, "/stream").text == body.decode()


# -- which hosts -------------------------------------------------------------------------------------


def test_host_not_allowed_is_refused_before_its_name_is_resolved(server):
    calls: list[str] = []

    refused = refusal(lambda: fetch(server, "/x", allowed_hosts=["github.com"], resolver=resolver_for({}, calls)))

    assert refused.reason == f"host '{NAME}:{server.port}' is not in SLIPWAY_DEFINITION_HOSTS (nor is it the repository's host)"
    assert calls == [] and server.requests == []


def test_an_entry_without_port_allows_the_default_port_only(server):
    refused = refusal(lambda: fetch(server, "/x", allowed_hosts=[NAME]))

    assert "is not in SLIPWAY_DEFINITION_HOSTS" in refused.reason and server.requests == []


def test_allowlist_is_case_insensitive(server):
    server.routes["/x"] = lambda h: answer(h, 200, b"ok")

    assert fetch(server, "/x", allowed_hosts=[f"DEFS.Example.TEST.:{server.port}"]).text == "ok"


@pytest.mark.parametrize(("url", "reason"), [
    ("http://defs.example.test/x", "scheme 'http' refused (only https)"),
    ("file:///etc/passwd", "scheme 'file' refused (only https)"),
    ("gopher://defs.example.test/x", "scheme 'gopher' refused (only https)"),
    ("https://user:secret@defs.example.test/x", "a URL with a user name or password in it is refused"),
    ("https://defs.example.test:99999/x", "is not a well-formed URL"),
    ("https:///x", "names no host"),
    ("https://defs example.test/x", "has spaces or control characters"),
])
def test_urls_refused_before_anything_is_asked(url, reason):
    calls: list[str] = []

    refused = refusal(lambda: fetch_text(url, allowed_hosts=[NAME], max_bytes=100, deadline_seconds=1,
                                         resolver=resolver_for({}, calls)))

    assert reason in refused.reason
    assert "secret" not in refused.reason
    assert calls == []


def test_definition_hosts_are_the_repository_host_and_the_setting():
    with override_settings(SLIPWAY_DEFINITION_HOSTS=["Specs.Example.com", "raw.githubusercontent.com:443"]):
        assert definition_hosts("GitHub.com") == {"github.com", "specs.example.com", "raw.githubusercontent.com:443"}
        assert definition_hosts(None) == {"specs.example.com", "raw.githubusercontent.com:443"}
    with override_settings(SLIPWAY_DEFINITION_HOSTS=[]):
        assert definition_hosts("ghe.example.com") == {"ghe.example.com"}


# -- which addresses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("address", "kind"), [
    ("127.0.0.1", "a loopback address"),
    ("10.0.0.5", "a private address"),
    ("192.168.1.20", "a private address"),
    ("169.254.169.254", "a link-local address"),
    ("100.64.0.1", "a shared (carrier-grade NAT) address"),
    ("0.0.0.0", "an unspecified address"),
    ("224.0.0.251", "a multicast address"),
    ("::1", "a loopback address"),
    ("fe80::1", "a link-local address"),
    ("fd12:3456::1", "a private address"),
    ("fec0::1", "a site-local address"),
    ("ff0e::1", "a multicast address"),
    ("::ffff:127.0.0.1", "a loopback address (127.0.0.1 inside IPv6)"),
    ("::ffff:10.0.0.5", "a private address (10.0.0.5 inside IPv6)"),
    ("64:ff9b::a9fe:a9fe", "a link-local address (169.254.169.254 inside IPv6)"),
    ("2002:a00:5::1", "a private address (10.0.0.5 inside IPv6)"),
    ("2001::1", "a private address"),  # Teredo
])
def test_a_name_resolving_to_a_non_public_address_is_refused(server, address, kind):
    refused = refusal(lambda: fetch(server, "/x", resolver=resolver_for({NAME: [address]}),
                                    address_check=address_refusal))

    assert refused.reason == f"'{NAME}' resolves to {ipaddress.ip_address(address)}, {kind}"
    assert server.requests == []


def test_one_private_address_among_public_ones_refuses_them_all(server):
    refused = refusal(lambda: fetch(server, "/x", resolver=resolver_for({NAME: ["93.184.215.14", "10.0.0.5"]}),
                                    address_check=address_refusal))

    assert refused.reason == f"'{NAME}' resolves to 10.0.0.5, a private address"


def test_an_address_written_in_the_url_is_checked_too(server):
    refused = refusal(lambda: fetch_text(f"http://127.0.0.1:{server.port}/x", allowed_hosts=[f"127.0.0.1:{server.port}"],
                                         max_bytes=100, deadline_seconds=1, schemes=("http",)))

    assert refused.reason == "127.0.0.1 is a loopback address"
    assert server.requests == []


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700::6810:84e5", "64:ff9b::808:808"])
def test_public_addresses_pass(address):
    assert address_refusal(ipaddress.ip_address(address)) is None


def test_a_name_that_does_not_resolve_is_reported(server):
    refused = refusal(lambda: fetch(server, "/x", resolver=resolver_for({})))

    assert refused.reason == f"'{NAME}' cannot be resolved: Name or service not known" and refused.transient


def test_connection_goes_to_the_address_that_was_checked():
    """DNS rebinding: the name answers a "public" address when checked and 127.0.0.1 a moment later; the
    request must reach the checked address (127.0.0.2 stands for the public one: the check lets it
    through, and only it)."""
    checked = DefinitionServer(("127.0.0.2", 0)).start()
    try:
        rebound = DefinitionServer(("127.0.0.1", checked.port)).start()
    except OSError:
        checked.stop()
        pytest.skip("the port of the first server is taken on 127.0.0.1")
    try:
        for running, body in ((checked, b"from the checked address"), (rebound, b"from the rebound address")):
            running.routes["/x"] = lambda h, body=body: answer(h, 200, body)
        answers = iter([["127.0.0.2"], ["127.0.0.1"], ["127.0.0.1"]])
        calls: list[str] = []

        def rebinding(host: str, port: int) -> list[str]:
            calls.append(host)
            return next(answers)

        fetched = fetch(checked, "/x", resolver=rebinding, address_check=loopback_allowed("127.0.0.2"))

        assert fetched.text == "from the checked address"
        assert calls == [NAME]  # resolved once, then never again
        assert len(checked.requests) == 1 and rebound.requests == []
    finally:
        checked.stop()
        rebound.stop()


# -- redirects ---------------------------------------------------------------------------------------


def test_redirect_is_followed_and_the_final_url_given(server):
    server.routes["/old"] = lambda h: answer(h, 301, Location="/new.yaml")
    server.routes["/new.yaml"] = lambda h: answer(h, 200, b"moved")
    calls: list[str] = []

    fetched = fetch(server, "/old", resolver=resolver_for({NAME: ["127.0.0.1"]}, calls))

    assert fetched.text == "moved"
    assert fetched.final_url == f"http://{NAME}:{server.port}/new.yaml"
    assert calls == [NAME, NAME]  # every hop resolved and checked again


def test_redirect_to_a_name_resolving_to_a_private_address_is_refused(server):
    server.routes["/r"] = lambda h: answer(h, 302, Location=f"http://metadata.example.test:{server.port}/latest")
    resolver = resolver_for({NAME: ["127.0.0.1"], "metadata.example.test": ["169.254.169.254"]})

    refused = refusal(lambda: fetch(server, "/r", resolver=resolver, allowed_hosts=[
        f"{NAME}:{server.port}", f"metadata.example.test:{server.port}"]))

    assert refused.reason == (f"redirect to http://metadata.example.test:{server.port}/latest refused: "
                              "'metadata.example.test' resolves to 169.254.169.254, a link-local address")
    assert [path for path, _ in server.requests] == ["/r"]


def test_redirect_to_a_private_address_is_refused(server):
    server.routes["/r"] = lambda h: answer(h, 302, Location="http://169.254.169.254/")

    refused = refusal(lambda: fetch(server, "/r", allowed_hosts=[f"{NAME}:{server.port}", "169.254.169.254"]))

    assert refused.reason == "redirect to http://169.254.169.254/ refused: 169.254.169.254 is a link-local address"


def test_redirect_to_a_host_not_allowed_is_refused(server):
    server.routes["/r"] = lambda h: answer(h, 302, Location="http://elsewhere.example.test/x")

    refused = refusal(lambda: fetch(server, "/r"))

    assert refused.reason == ("redirect to http://elsewhere.example.test/x refused: host 'elsewhere.example.test' "
                              "is not in SLIPWAY_DEFINITION_HOSTS (nor is it the repository's host)")


def test_redirect_to_another_scheme_is_refused(server):
    server.routes["/r"] = lambda h: answer(h, 302, Location="file:///etc/passwd")

    assert refusal(lambda: fetch(server, "/r")).reason == \
        "redirect to file:///etc/passwd refused: scheme 'file' refused (only http)"


def test_too_many_redirects(server):
    server.routes["/loop"] = lambda h: answer(h, 302, Location="/loop")

    refused = refusal(lambda: fetch(server, "/loop", max_redirects=3))

    assert refused.reason == "more than 3 redirects"
    assert len(server.requests) == 4


# -- bounds ------------------------------------------------------------------------------------------


def test_too_large_by_its_content_length_is_refused_unread(server):
    server.routes["/big"] = lambda h: raw(h, b"HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\n" + b"x" * 1000)

    refused = refusal(lambda: fetch(server, "/big", max_bytes=1_000_000))

    assert refused.reason == "larger than 1,000,000 bytes" and not refused.transient


@pytest.mark.parametrize("head", [b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", b"HTTP/1.0 200 OK\r\n\r\n"])
def test_too_large_without_a_length_is_cut_while_reading(server, head):
    def endless(handler):
        handler.close_connection = True
        try:
            handler.wfile.write(head)
            for _ in range(200):  # 12.8 MB if nobody stops reading
                handler.wfile.write(b"y" * 65536)
        except OSError:
            pass

    server.routes["/endless"] = endless

    refused = refusal(lambda: fetch(server, "/endless", max_bytes=100_000))

    assert refused.reason == "larger than 100,000 bytes"


def test_chunked_body_is_bounded_too(server):
    chunk = b"10000\r\n" + b"z" * 0x10000 + b"\r\n"
    server.routes["/chunked"] = lambda h: raw(
        h, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 4 + b"0\r\n\r\n")

    assert len(fetch(server, "/chunked").text) == 4 * 0x10000
    assert refusal(lambda: fetch(server, "/chunked", max_bytes=200_000)).reason == "larger than 200,000 bytes"


def test_a_server_dribbling_its_body_is_cut_at_the_deadline(server):
    def dribble(handler):
        raw(handler, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        try:
            for _ in range(100):
                handler.wfile.write(b"a")
                handler.wfile.flush()
                time.sleep(0.1)  # far under any per-read timeout
        except OSError:
            pass

    server.routes["/slow"] = dribble
    started = time.monotonic()

    refused = refusal(lambda: fetch(server, "/slow", deadline_seconds=1.0))

    assert refused.reason == "took longer than 1 s" and refused.transient
    assert time.monotonic() - started < 2.0


def test_a_server_dribbling_its_headers_is_cut_at_the_deadline(server):
    def dribble(handler):
        handler.close_connection = True
        try:
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"s" * 100:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    server.routes["/slow"] = dribble
    started = time.monotonic()

    assert refusal(lambda: fetch(server, "/slow", deadline_seconds=1.0)).reason == "took longer than 1 s"
    assert time.monotonic() - started < 2.0


def test_a_slow_resolver_is_cut_at_the_deadline(server):
    def slow(host: str, port: int) -> list[str]:
        time.sleep(3)
        return ["127.0.0.1"]

    started = time.monotonic()

    assert refusal(lambda: fetch(server, "/x", resolver=slow, deadline_seconds=0.5)).reason == "took longer than 0.5 s"
    assert time.monotonic() - started < 1.5


def test_the_deadline_covers_every_redirect(server):
    def slow_redirect(handler):
        time.sleep(0.4)
        answer(handler, 302, Location="/slow")

    server.routes["/slow"] = slow_redirect

    assert refusal(lambda: fetch(server, "/slow", deadline_seconds=1.0, max_redirects=10)).reason == \
        "took longer than 1 s"
    assert len(server.requests) <= 3


# -- answers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "transient"), [(404, False), (403, False), (500, True), (503, True)])
def test_error_statuses_are_reported(server, status, transient):
    server.routes["/e"] = lambda h: answer(h, status, b"nope")

    refused = refusal(lambda: fetch(server, "/e"))

    assert refused.reason == f"HTTP {status}" and refused.transient is transient


def test_not_modified_when_the_etag_still_matches(server):
    def conditional(handler):
        if handler.headers.get("If-None-Match") == '"v1"':
            answer(handler, 304, ETag='"v1"')
        else:
            answer(handler, 200, b"new text", ETag='"v2"')

    server.routes["/api.yaml"] = conditional

    assert fetch(server, "/api.yaml", etag='"v1"') == FetchedText(
        text="", final_url=f"http://{NAME}:{server.port}/api.yaml", etag='"v1"', not_modified=True)
    assert fetch(server, "/api.yaml", etag='"v0"') == FetchedText(
        text="new text", final_url=f"http://{NAME}:{server.port}/api.yaml", etag='"v2"')
    assert [headers.get("if-none-match") for _, headers in server.requests] == ['"v1"', '"v0"']


def test_not_modified_without_having_asked_is_an_error(server):
    server.routes["/x"] = lambda h: answer(h, 304)

    assert refusal(lambda: fetch(server, "/x")).reason == "HTTP 304"


@pytest.mark.parametrize("body", ["café".encode("latin-1"), b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"a\x00b"])
def test_not_utf8_text_is_refused(server, body):
    server.routes["/bin"] = lambda h: answer(h, 200, body)

    assert refusal(lambda: fetch(server, "/bin")).reason.startswith("not UTF-8 text")


def test_compressed_answer_not_asked_for_is_refused(server):
    server.routes["/gz"] = lambda h: answer(h, 200, b"\x1f\x8b...", Content_Encoding="gzip")

    assert refusal(lambda: fetch(server, "/gz")).reason == "the answer is encoded (gzip) although none was asked for"


def test_an_answer_that_ends_early_is_reported(server):
    server.routes["/short"] = lambda h: raw(h, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")

    refused = refusal(lambda: fetch(server, "/short"))

    assert refused.reason == "the answer ended early (9 bytes read)" and refused.transient


def test_something_that_is_not_http_is_reported(server):
    server.routes["/junk"] = lambda h: raw(h, b"SSH-2.0-OpenSSH_9.6\r\n")

    assert "did not answer in HTTP" in refusal(lambda: fetch(server, "/junk")).reason


def test_nothing_listening_is_reported():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()

    refused = refusal(lambda: fetch_text(f"http://{NAME}:{port}/x", allowed_hosts=[f"{NAME}:{port}"],
                                         max_bytes=100, deadline_seconds=2, resolver=resolver_for({NAME: ["127.0.0.1"]}),
                                         address_check=loopback_allowed("127.0.0.1"), schemes=("http",)))

    assert refused.reason == f"could not connect to '{NAME}' (127.0.0.1: Connection refused)" and refused.transient


# -- TLS to a pinned address -------------------------------------------------------------------------


def _certificates(name: str) -> tuple[bytes, bytes, bytes]:
    """A test certificate authority's certificate, and a server certificate and key for `name` it signed."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    pem = serialization.Encoding.PEM

    def named(common_name: str):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(named("Slipway test CA")).issuer_name(named("Slipway test CA"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(hours=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(named(name)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return ca.public_bytes(pem), leaf.public_bytes(pem), key_pem


@pytest.fixture
def tls_server(tmp_path) -> Iterator[tuple[DefinitionServer, ssl.SSLContext]]:
    ca, certificate, key = _certificates(NAME)
    (tmp_path / "cert.pem").write_bytes(certificate)
    (tmp_path / "key.pem").write_bytes(key)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    running = DefinitionServer(("127.0.0.1", 0))
    running.socket = server_context.wrap_socket(running.socket, server_side=True)
    running.start()
    client_context = ssl.create_default_context(cadata=ca.decode())
    yield running, client_context
    running.stop()


def test_https_to_a_pinned_address_verifies_the_certificate_for_the_host_name(tls_server):
    server, context = tls_server
    server.routes["/api.graphql"] = lambda h: answer(h, 200, b"type Query { ping: String }")

    fetched = fetch_text(f"https://{NAME}:{server.port}/api.graphql", allowed_hosts=[f"{NAME}:{server.port}"],
                         max_bytes=1000, deadline_seconds=5, resolver=resolver_for({NAME: ["127.0.0.1"]}),
                         address_check=loopback_allowed("127.0.0.1"), ssl_context=context)

    assert fetched.text == "type Query { ping: String }"
    assert server.requests[0][1]["host"] == f"{NAME}:{server.port}"


def test_https_certificate_for_another_name_is_refused(tls_server):
    server, context = tls_server
    other = "other.example.test"

    refused = refusal(lambda: fetch_text(
        f"https://{other}:{server.port}/x", allowed_hosts=[f"{other}:{server.port}"], max_bytes=1000,
        deadline_seconds=5, resolver=resolver_for({other: ["127.0.0.1"]}),
        address_check=loopback_allowed("127.0.0.1"), ssl_context=context))

    assert refused.reason.startswith(f"the TLS certificate of '{other}' is not valid: ")
    assert "mismatch" in refused.reason.lower() and server.requests == []


def test_https_certificate_not_signed_by_a_trusted_authority_is_refused(tls_server):
    server, _ = tls_server

    refused = refusal(lambda: fetch_text(
        f"https://{NAME}:{server.port}/x", allowed_hosts=[f"{NAME}:{server.port}"], max_bytes=1000,
        deadline_seconds=5, resolver=resolver_for({NAME: ["127.0.0.1"]}), address_check=loopback_allowed("127.0.0.1")))

    assert refused.reason.startswith(f"the TLS certificate of '{NAME}' is not valid: ") and server.requests == []
