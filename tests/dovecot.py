"""A throwaway Dovecot IMAP server for tests and benchmarks (see shared/docs/DOVECOT.md).

Runs `dovecot -F` from a temporary folder on free loopback ports: a plain listener and an IMAPS
listener with a self-signed certificate. Any user name logs in with the one password, and each
user has a fresh Maildir, so every test takes a new user instead of a new server.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from imapclient import IMAPClient

PASSWORD = "test-password"

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
ssl = yes
ssl_cert = <{dir}/cert.pem
ssl_key = <{dir}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={dir}/mail/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = {ssl_port}
    ssl = yes
  }}
}}
"""


def available() -> str | None:
    """The dovecot binary, or None when Dovecot is not installed here."""
    return shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None
    )


def _free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Dovecot:
    """One private Dovecot process; `stop()` removes it and its folder."""

    def __init__(self, extra_config: str = "") -> None:
        """Prepare the folder, the certificate and the configuration (not started yet);
        `extra_config` is appended to dovecot.conf (e.g. an `imap_capability` without IDLE)."""
        self.extra_config = extra_config
        # mkdtemp makes 0700, and Dovecot's auth user must traverse it: 0755 (DOVECOT.md).
        self.dir = Path(tempfile.mkdtemp(prefix="dubu-dovecot-", dir="/tmp"))
        self.dir.chmod(0o755)
        self.host = "127.0.0.1"
        self.port, self.ssl_port = _free_port(), _free_port()
        self.cert = self.dir / "cert.pem"
        self.conf = self.dir / "dovecot.conf"
        self.process: subprocess.Popen[bytes] | None = None
        self._prepare()

    def _prepare(self) -> None:
        """Write the self-signed certificate, the mail folder and the configuration."""
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-keyout", str(self.dir / "key.pem"), "-out", str(self.cert)],
            check=True, capture_output=True,
        )
        mail = self.dir / "mail"
        mail.mkdir()
        nobody = pwd.getpwnam("nobody")
        os.chown(mail, nobody.pw_uid, nobody.pw_gid)
        self.conf.write_text(CONFIG.format(dir=self.dir, port=self.port, ssl_port=self.ssl_port,
                                           password=PASSWORD) + self.extra_config + "\n")

    def start(self, timeout: float = 10.0) -> None:
        """Start in the foreground of a child process and wait until LOGIN + SELECT work."""
        binary = available()
        assert binary, "dovecot is not installed"
        self.process = subprocess.Popen([binary, "-F", "-c", str(self.conf)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client = self.client("readiness")
                client.select_folder("INBOX")
                client.logout()
                return
            except Exception as error:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = (self.dir / "dovecot.log").read_text() if (self.dir / "dovecot.log").exists() else ""
                    self.stop()
                    raise RuntimeError(f"dovecot did not start: {error}\n{log[-2000:]}") from error
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def new_user(self) -> str:
        """A user name nobody has used yet: an empty mailbox."""
        return f"u{uuid.uuid4().hex[:12]}@korsbaek.dk"

    def client(self, user: str) -> IMAPClient:
        """A logged-in IMAPClient on the plain port."""
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=30)
        client.login(user, PASSWORD)
        return client

    def mailbox_settings(self, user: str, security: str = "none", **extra: Any) -> dict[str, Any]:
        """A [mailbox] section for this server and user."""
        port = self.ssl_port if security == "ssl" else self.port
        return {"host": self.host, "port": port, "security": security, "username": user,
                "password": PASSWORD, "ca_file": str(self.cert), **extra}

    def append(self, user: str, messages: Iterable[bytes], folder: str = "INBOX",
               chunk: int = 100) -> int:
        """Put messages into a folder with MULTIAPPEND, `chunk` per command; return the count."""
        client = self.client(user)
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            batch: list[bytes] = []
            count = 0
            for raw in messages:
                batch.append(raw)
                if len(batch) == chunk:
                    client.multiappend(folder, batch)
                    count += len(batch)
                    batch = []
            if batch:
                client.multiappend(folder, batch)
                count += len(batch)
            return count
        finally:
            client.logout()

    def uids(self, user: str, folder: str = "INBOX", criteria: Sequence[Any] = ("ALL",)) -> list[int]:
        """UIDs in a folder matching a SEARCH."""
        client = self.client(user)
        try:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            return sorted(client.search(list(criteria)))
        finally:
            client.logout()

    def set_uidvalidity(self, user: str, value: int, folder: str = "INBOX") -> None:
        """Give a folder a new UIDVALIDITY (its UIDs stay)."""
        doveadm = shutil.which("doveadm") or "/usr/bin/doveadm"
        subprocess.run([doveadm, "-c", str(self.conf), "mailbox", "update", "-u", user,
                        "--uid-validity", str(value), folder], check=True, capture_output=True)

    def _doveadm(self, *args: str) -> str:
        """Run doveadm against this server; its standard output."""
        doveadm = shutil.which("doveadm") or "/usr/bin/doveadm"
        return subprocess.run([doveadm, "-c", str(self.conf), *args], check=True,
                              capture_output=True, text=True).stdout

    def kick(self, user: str) -> None:
        """Disconnect every IMAP session of a user, as an administrator would (a BYE first)."""
        self._doveadm("kick", user)

    def kill_sessions(self, user: str) -> list[int]:
        """SIGKILL the imap processes serving a user (no BYE: the socket just closes)."""
        pids = []
        for line in self._doveadm("who", "-1", user).splitlines()[1:]:
            fields = line.split()
            if len(fields) >= 3 and fields[1] == "imap":
                pids.append(int(fields[2]))
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        return pids

    def message_file(self, user: str, uid: int, folder: str = "INBOX") -> Path:
        """The Maildir file holding a message, found through dovecot-uidlist."""
        root = self.dir / "mail" / user / "Maildir"
        if folder != "INBOX":
            root = root / f".{folder}"
        for line in (root / "dovecot-uidlist").read_text().splitlines()[1:]:
            number, _, name = line.partition(" ")
            if number == str(uid):
                base = name.rsplit(":", 1)[-1] if ":" in name else name
                for sub in ("cur", "new"):
                    found = [f for f in (root / sub).glob("*") if f.name.startswith(base)]
                    if found:
                        return found[0]
        raise FileNotFoundError(f"no Maildir file for UID {uid} of {user}")

    def set_readable(self, user: str, uid: int, readable: bool, folder: str = "INBOX") -> None:
        """Make a message's file unreadable for Dovecot (FETCH fails with an internal error,
        and Dovecot hangs up), or readable again."""
        self.message_file(user, uid, folder).chmod(0o600 if readable else 0)
