"""The web area's commands: user set-password from standard input, and the demo."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.cli import main
from app.models import InboundMessage, Person
from app.services.auth import _hasher
from tests.conftest import ROOT


def test_set_password_reads_standard_input(runtime, tmp_path: Path) -> None:
    import tomli_w

    config = tmp_path / "config.toml"
    with (ROOT / "config.example.toml").open("rb") as handle:
        import tomllib

        data = tomllib.load(handle)
    data["database"]["url"] = runtime.settings.database_url
    data["instance"]["path"] = str(tmp_path / "instance")
    config.write_text(tomli_w.dumps(data))
    runner = CliRunner()
    result = runner.invoke(main, ["--config", str(config), "user", "set-password", "LENE.mortensen@korsbaek.dk"],
                           input="en-lang-adgangskode\n")
    assert result.exit_code == 0, result.output
    with runtime.sessions() as s:
        lene = s.scalars(select(Person).where(Person.email == "lene.mortensen@korsbaek.dk")).one()
        assert _hasher.verify(lene.password_hash, "en-lang-adgangskode")
    short = runner.invoke(main, ["--config", str(config), "user", "set-password", "lene.mortensen@korsbaek.dk"],
                          input="kort\n")
    assert short.exit_code == 2 and "at least" in short.output
    unknown = runner.invoke(main, ["--config", str(config), "user", "set-password", "nobody@korsbaek.dk"],
                            input="en-lang-adgangskode\n")
    assert unknown.exit_code == 2


@pytest.mark.slow
def test_demo_prepares_an_instance_and_reuses_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DUBU_TRIAGE_CONFIG", raising=False)
    runner = CliRunner()
    first = runner.invoke(main, ["demo", "--no-serve"])
    assert first.exit_code == 0, first.output
    assert "http://127.0.0.1:5000/" in first.output
    lines = [line.split() for line in first.output.splitlines() if "@korsbaek.dk" in line]
    assert len(lines) == 8
    second = runner.invoke(main, ["demo", "--no-serve"])
    assert second.exit_code == 0, second.output
    assert [line.split() for line in second.output.splitlines() if "@korsbaek.dk" in line] == lines
    from app.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'demo-instance' / 'dubu-triage.db'}")
    with engine.connect() as conn:
        assert conn.execute(select(InboundMessage.id)).all().__len__() == 240
        email, _role, password = lines[2][0], lines[2][1], lines[2][-1]
        stored = conn.execute(select(Person.password_hash).where(Person.email == email)).scalar_one()
        assert _hasher.verify(stored, password)
    engine.dispose()


def test_serve_answers_on_the_given_port(sqlite_url, tmp_path: Path) -> None:
    import subprocess
    import sys
    import time
    import urllib.request

    import tomli_w

    from tests.conftest import example_config, free_port

    data = example_config()
    data["database"]["url"] = sqlite_url
    data["instance"].update(path=str(tmp_path / "instance"), secure_cookies=False)
    config = tmp_path / "config.toml"
    config.write_text(tomli_w.dumps(data))
    port = free_port()
    command = [str(Path(sys.executable).parent / "dubu-triage"), "--config", str(config), "serve", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as answer:
                    assert answer.status == 200
                    assert "Log ind" in answer.read().decode()
                    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not answer")
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()  # type: ignore[union-attr]
