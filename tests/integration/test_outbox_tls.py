"""Sending over STARTTLS and implicit TLS with login, to a real aiosmtpd that checks both.

The test server's certificate is self-signed; the sender trusts it the way a municipality trusts
a private CA: through SSL_CERT_FILE, which Python's default TLS context reads.
"""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from app.db import make_engine, make_sessionmaker
from app.mail.outbox import SendReport, enqueue, send_pending
from app.models import OutboundMessage
from app.runtime import Runtime
from tests.conftest import free_port, skip_or_fail

USER, PASSWORD = "dubu@korsbaek.dk", "hemmeligt"
# aiosmtpd warns about AUTH without STARTTLS even when the whole connection is implicit TLS.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Requiring AUTH while not requiring TLS:UserWarning")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (certificate, key)."""
    folder = tmp_path_factory.mktemp("smtp-tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError) as error:
        skip_or_fail(f"openssl could not make a test certificate: {error}")
    return cert, key


@dataclass
class TlsServer:
    """An aiosmtpd server that demands TLS and a login before it takes mail."""

    port: int
    messages: list[Any] = field(default_factory=list)
    logins: list[bytes] = field(default_factory=list)


def _authenticator(server: TlsServer) -> Any:
    """Accept only USER/PASSWORD, remembering who logged in."""
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(_server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any) -> Any:
        """The login check."""
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            USER.encode(), PASSWORD.encode())
        if ok:
            server.logins.append(data.login)
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535

    return check


@pytest.fixture(params=["starttls", "ssl"])
def tls_server(request: pytest.FixtureRequest, certificate) -> Iterator[tuple[str, TlsServer]]:
    """A STARTTLS server (TLS required before AUTH and mail) or an implicit-TLS one."""
    from aiosmtpd.controller import Controller

    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = TlsServer(port=free_port())

    class Handler:
        async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
            server.messages.append(message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    # PLAIN only: smtplib's AUTH LOGIN with an initial response stalls aiosmtpd after a refusal.
    options: dict[str, Any] = {"authenticator": _authenticator(server), "auth_required": True,
                               "auth_exclude_mechanism": ["LOGIN"]}
    if request.param == "starttls":
        options.update(tls_context=context, require_starttls=True)
    else:
        # aiosmtpd does not count implicit TLS as TLS for AUTH; the connection is TLS throughout.
        options.update(ssl_context=context, auth_require_tls=False)
    controller = Controller(Handler(), hostname="127.0.0.1", port=server.port, **options)
    controller.start()
    yield request.param, server
    controller.stop()


@pytest.fixture
def tls_runtime(make_settings, sqlite_url: str, tls_server, certificate,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    """A runtime whose SMTP settings use the server's security and our login."""
    security, server = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    settings = make_settings(database={"url": sqlite_url}, smtp={
        "host": "127.0.0.1", "port": server.port, "security": security,
        "username": USER, "password": PASSWORD, "timeout": 10})
    engine = make_engine(settings.database_url)
    runtime = Runtime(settings, engine, make_sessionmaker(engine))
    yield runtime
    runtime.dispose()


def _queue(runtime: Runtime) -> int:
    """One mail in the outbox."""
    with runtime.sessions.begin() as session:
        return enqueue(session, runtime.settings, kind="reply", to=["anne@korsbaek.dk"],
                       subject="Svar", body_text="Hej\n", now=runtime.now()).id


def test_sends_over_tls_with_login(tls_runtime: Runtime, tls_server) -> None:
    """Both kinds of TLS, with a login, deliver the mail."""
    _, server = tls_server
    _queue(tls_runtime)
    assert send_pending(tls_runtime) == SendReport(sent=1)
    assert [m["Subject"] for m in server.messages] == ["Svar"]
    assert server.logins == [USER.encode()]


def test_an_untrusted_certificate_is_refused(tls_runtime: Runtime, tls_server,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Without trust in the server's certificate nothing is sent, and the mail waits."""
    _, server = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent")
    monkeypatch.setenv("SSL_CERT_DIR", "/nonexistent")
    outbound_id = _queue(tls_runtime)
    assert send_pending(tls_runtime) == SendReport(deferred=1)
    assert server.messages == []
    with tls_runtime.sessions() as session:
        row = session.get_one(OutboundMessage, outbound_id)
        assert row.status == "pending" and "CERTIFICATE_VERIFY_FAILED" in (row.last_error or "")


def test_a_wrong_password_keeps_the_mail(make_settings, sqlite_url: str, tls_server, certificate,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused login is an error that is kept and retried, not a lost mail."""
    security, server = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    settings = make_settings(database={"url": sqlite_url}, smtp={
        "host": "127.0.0.1", "port": server.port, "security": security,
        "username": USER, "password": "forkert", "timeout": 10})
    engine = make_engine(settings.database_url)
    runtime = Runtime(settings, engine, make_sessionmaker(engine))
    outbound_id = _queue(runtime)
    assert send_pending(runtime) == SendReport(deferred=1)
    with runtime.sessions() as session:
        row = session.get_one(OutboundMessage, outbound_id)
        assert row.status == "pending" and "SMTPAuthenticationError" in (row.last_error or "")
    runtime.dispose()
    assert server.messages == []
