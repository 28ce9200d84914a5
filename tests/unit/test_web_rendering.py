"""Pure parts of the web view: HTML cleaning, download names and types, the access matrix."""

from __future__ import annotations

from app.domain import Role, Severity
from app.models import Person
from app.services.accounts import Right, may, rights_of
from app.services.tickets import SEVERITY_ORDER
from app.web.rendering import clean_html, download_name, download_type


def test_clean_html_removes_everything_active() -> None:
    html = clean_html(
        '<p onclick="x()">Hej<script>alert(1)</script></p><a href="javascript:alert(1)">a</a>'
        '<a href="https://dubu.example/">b</a><img src="http://evil.example/p.gif">'
        '<form action="http://evil.example"><input></form><iframe src="x"></iframe>'
        '<div style="background:url(http://evil.example)">c</div><style>p{}</style>'
    )
    for bad in ("script", "onclick", "javascript", "<img", "<form", "<input", "<iframe", "style", "evil"):
        assert bad not in html
    assert 'href="https://dubu.example/"' in html and 'rel="noopener noreferrer"' in html
    assert "Hej" in html and ">c<" in html


def test_download_names_are_plain() -> None:
    assert download_name("../../etc/passwd") == "passwd"
    assert download_name('"><script>x</script>.html') == "script_.html"  # the / of </script> is a path separator
    assert "<" not in download_name("<img src=x onerror=alert(1)>.pdf")
    assert download_name("\x00\x1b.bashrc") == "bashrc"
    assert download_name("") == "bilag"
    assert download_name("Skærmbillede 1.png") == "Skærmbillede 1.png"


def test_download_types_are_safe() -> None:
    assert download_type("text/html; charset=utf-8") == "application/octet-stream"
    assert download_type("image/svg+xml") == "application/octet-stream"
    assert download_type("application/PDF") == "application/pdf"
    assert download_type(None) == "application/octet-stream"


def test_severity_labels_sort_by_urgency() -> None:
    assert sorted(s.value for s in Severity) == list(SEVERITY_ORDER)


def _person(role: Role, may_forward: bool = False) -> Person:
    return Person(email="x@korsbaek.dk", name="X", role=role.value, may_forward=may_forward, active=True)


def test_access_matrix() -> None:
    owner = _person(Role.SYSTEM_OWNER)
    assert rights_of(owner) == {Right.READ, Right.READ_AUDIT}
    assert rights_of(_person(Role.SUPERUSER)) == {Right.READ, Right.WORK}
    assert Right.FORWARD_NETCOMPANY in rights_of(_person(Role.SUPERUSER, may_forward=True))
    responsible = rights_of(_person(Role.SYSTEM_RESPONSIBLE, may_forward=True))
    assert responsible == set(Right)
    assert not may(_person(Role.ADMINISTRATOR, may_forward=True), Right.FORWARD_KOMBIT)
    inactive = _person(Role.SUPERUSER, may_forward=True)
    inactive.active = False
    assert rights_of(inactive) == set()
