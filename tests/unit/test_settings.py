"""The configuration file: strict, typed, clear about what is wrong."""

from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from app.errors import ConfigError
from app.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_example_configuration_loads_korsbaek() -> None:
    """config.example.toml documents a working configuration of the example municipality."""
    settings = load_settings(ROOT / "config.example.toml")
    assert settings.person("Lene.Mortensen@korsbaek.dk").may_forward is True
    assert settings.person("peter.lund@korsbaek.dk").may_forward is False
    assert [p.role.value for p in settings.people].count("superuser") == 4
    assert settings.mailbox.security == "ssl"


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    """A typo is an error naming the key and the file, not silently ignored."""
    file = tmp_path / "conf.toml"
    file.write_text('[mailbox]\nhots = "imap.example"\n')
    with pytest.raises(ConfigError, match=r"conf\.toml.*unknown key 'mailbox\.hots'"):
        load_settings(file)


def test_missing_required_key_is_named(tmp_path: Path) -> None:
    """A person without a name is refused with the key's path."""
    file = tmp_path / "conf.toml"
    file.write_text('[[people]]\nemail = "a@korsbaek.dk"\nrole = "superuser"\n')
    with pytest.raises(ConfigError, match=r"missing key 'people\.0\.name'"):
        load_settings(file)


def test_password_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets may stay out of the file."""
    file = tmp_path / "conf.toml"
    file.write_text('[mailbox]\nhost = "imap.example"\n')
    monkeypatch.setenv("DUBU_TRIAGE_IMAP_PASSWORD", "s3cret")
    assert load_settings(file).mailbox.password == "s3cret"


def test_settings_are_frozen() -> None:
    """Nobody changes the settings behind the service's back."""
    settings = load_settings(ROOT / "config.example.toml")
    with pytest.raises(FrozenInstanceError):
        settings.mailbox.host = "elsewhere"  # type: ignore[misc]


def test_secret_key_is_made_once_and_private(tmp_path: Path) -> None:
    """Without a configured key, one is made in the instance folder, mode 600, and kept."""
    from app.settings import secret_key, settings_from_dict

    settings = settings_from_dict({"instance": {"path": str(tmp_path / "inst")}})
    first = secret_key(settings)
    key_file = tmp_path / "inst" / "secret_key"
    assert len(first) == 64 and key_file.stat().st_mode & 0o777 == 0o600
    assert secret_key(settings) == first
