"""parse_message: headers, ids, dates, charsets, broken MIME, attachments — one repair per test."""

from __future__ import annotations

import base64
import csv
from datetime import timedelta
from hashlib import sha256
from pathlib import Path

import pytest

from app.errors import ParseError
from app.ingest.parsing import parse_message

DUBU_DEV = Path(__file__).resolve().parents[2] / "app" / "resources" / "dubu-dev"


def make_raw(body: bytes | str = "Hej\n\nDUBU virker ikke.\n", **headers: str) -> bytes:
    """A raw mail: headers given as keyword arguments (underscores become dashes), then body."""
    defaults = {
        "From": "Trine Højgaard <Trine.Hojgaard@Korsbaek.dk>",
        "To": "dubu@korsbaek.dk",
        "Subject": "Kan ikke gemme",
        "Date": "Tue, 2 Apr 2024 08:47:12 +0200",
        "Message-ID": "<abc123@korsbaek.dk>",
    }
    given = {name.replace("_", "-"): value for name, value in headers.items()}
    merged = {**defaults, **given}
    head = "".join(f"{name}: {value}\n" for name, value in merged.items() if value is not None)
    data = body.encode("utf-8") if isinstance(body, str) else body
    return head.encode("utf-8", "surrogateescape") + b"\n" + data


def test_empty_input_is_the_only_parse_error():
    with pytest.raises(ParseError):
        parse_message(b"")
    with pytest.raises(ParseError):
        parse_message(b"  \r\n ")
    assert parse_message(b"garbage without any header").text


def test_missing_message_id_is_the_hash_of_the_raw_bytes():
    raw = make_raw(Message_ID=None)
    assert parse_message(raw).message_id == f"{sha256(raw).hexdigest()}@sha256.invalid"
    raw_empty = make_raw(Message_ID="")
    assert parse_message(raw_empty).message_id.endswith("@sha256.invalid")


def test_ids_lose_their_angle_brackets_and_come_as_tuples():
    msg = parse_message(
        make_raw(
            Message_ID=" <id-1@x.dk> ",
            In_Reply_To="<parent@x.dk>",
            References="<root@x.dk>\n <parent@x.dk>",
        )
    )
    assert msg.message_id == "id-1@x.dk"
    assert msg.in_reply_to == ("parent@x.dk",)
    assert msg.references == ("root@x.dk", "parent@x.dk")


def test_date_is_timezone_aware_or_none():
    assert parse_message(make_raw()).date.utcoffset() == timedelta(hours=2)
    assert parse_message(make_raw(Date=None)).date is None
    assert parse_message(make_raw(Date="i går ved frokost")).date is None
    unknown_zone = parse_message(make_raw(Date="Tue, 2 Apr 2024 08:47:12 -0000")).date
    assert unknown_zone.utcoffset() == timedelta(0)


def test_header_glued_to_the_date_is_split_and_the_zone_kept():
    raw = make_raw(Date="Fri, 07 Apr 2023 17:30:44 +0200Received: from mx.example.com")
    msg = parse_message(raw)
    assert msg.date.utcoffset() == timedelta(hours=2)
    assert msg.header("Received") == "from mx.example.com"
    assert any("glued" in d for d in msg.defects)


def test_from_is_lower_case_and_names_are_rfc2047_decoded():
    msg = parse_message(make_raw(From="=?iso-8859-1?Q?Trine_H=F8jgaard?= <Trine@Korsbaek.DK>"))
    assert msg.from_addr == "trine@korsbaek.dk"
    assert msg.from_name == "Trine Højgaard"


def test_encoded_word_inside_an_address_does_not_become_another_address():
    msg = parse_message(make_raw(From="=?utf-8?Q?ceo=40victim.example?=@attacker.example"))
    assert msg.from_addr.endswith("@attacker.example")
    assert msg.from_addr != "ceo@victim.example"


def test_all_headers_are_decoded_in_order():
    msg = parse_message(
        make_raw(Subject="=?utf-8?B?RmVqbCBpIGLDuHJuZWZhZ2xpZyB1bmRlcnPDuGdlbHNl?=")
    )
    assert msg.subject == "Fejl i børnefaglig undersøgelse"
    names = [name for name, _ in msg.headers]
    assert names[:5] == ["From", "To", "Subject", "Date", "Message-ID"]


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_raw_8bit_headers_are_read(encoding):
    raw = make_raw().replace(b"Kan ikke gemme", "Frist på underretning".encode(encoding))
    assert parse_message(raw).subject == "Frist på underretning"


@pytest.mark.parametrize(
    ("charset", "text", "codec"),
    [
        ("iso-gb2312", "无法保存文件", "gb2312"),
        ("ks_c_5601-1987", "저장할 수 없습니다", "cp949"),
        ("utf-7", "Kan ikke gemme på sagen", "utf-7"),
        ("unknown-8bit", "Kan ikke gemme på sagen", "utf-8"),
        ("x-user-defined", "Kan ikke gemme på sagen", "utf-8"),
        ("iso-2022-jp", "保存できません、助けてください", "utf-8"),  # label lies: bytes are UTF-8
        ("iso-8859-1", "Der står “Afventer” – hvorfor?", "cp1252"),  # Windows quotes
        ("us-ascii", "Må jeg få adgang?", "utf-8"),
    ],
)
def test_body_charsets_decode_without_loss(charset, text, codec):
    raw = make_raw(
        text.encode(codec),
        Content_Type=f"text/plain; charset={charset}",
        Content_Transfer_Encoding="8bit",
    )
    msg = parse_message(raw)
    assert msg.text == text
    assert "\ufffd" not in msg.text


def test_unlabelled_charset_guess_keeps_cyrillic_readable():
    text = "Здравствуйте, не могу сохранить документ в системе, помогите пожалуйста."
    raw = make_raw(text.encode("koi8-r"), Content_Type="text/plain; charset=x-unknown")
    assert parse_message(raw).text == text


def test_unquoted_nextpart_boundary_keeps_the_body():
    boundary = "----=_NextPart_000_0093_01C81419.EB75E850"
    body = (
        f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n\nBrevet hænger i kø.\n"
        f"--{boundary}\nContent-Type: text/html; charset=utf-8\n\n<p>Brevet hænger i kø.</p>\n"
        f"--{boundary}--\n"
    )
    msg = parse_message(make_raw(body, Content_Type=f"multipart/alternative; boundary={boundary}"))
    assert msg.text == "Brevet hænger i kø."
    assert msg.html is not None and "<p>" in msg.html


def test_multipart_without_boundary_keeps_its_text():
    body = "Hej\nDet her er hele teksten.\n"
    msg = parse_message(make_raw(body, Content_Type="multipart/mixed"))
    assert "Det her er hele teksten." in msg.text
    assert msg.defects


def test_html_only_mail_becomes_text():
    html = (
        "<html><body><p>Hej</p><p>Kan <b>ikke</b> logge ind.</p><table><tr><td>A</td>"
        "<td>B</td></tr></table></body></html>"
    )
    msg = parse_message(make_raw(html, Content_Type="text/html; charset=utf-8"))
    assert "Kan ikke logge ind." in msg.text
    assert "<" not in msg.text
    assert msg.html == html
    assert msg.content_type == "text/html"


def test_empty_plain_alternative_falls_back_to_the_html():
    body = (
        "--b\nContent-Type: text/plain\n\n\n--b\nContent-Type: text/html\n\n"
        "<p>Kun i HTML-delen</p>\n--b--\n"
    )
    msg = parse_message(make_raw(body, Content_Type='multipart/alternative; boundary="b"'))
    assert msg.text == "Kun i HTML-delen"


def _attachment_mail() -> bytes:
    """Text, a PDF with an RFC 2231 name, a file with an RFC 2047 name, an inline image."""
    pdf = base64.b64encode(b"%PDF-1.4 brev").decode()
    png = base64.b64encode(b"\x89PNG\r\n\x1a\nbillede").decode()
    body = (
        "--m\nContent-Type: text/plain; charset=utf-8\n\nSe vedhæftede.\n"
        "--m\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n"
        "Content-Disposition: attachment; filename*=utf-8''R%C3%A5dgivning.pdf\n\n"
        f"{pdf}\n"
        "--m\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n"
        'Content-Disposition: attachment; filename="=?utf-8?Q?S=C3=B8skende.txt?="\n\n'
        f"{base64.b64encode(b'data').decode()}\n"
        "--m\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n"
        "Content-ID: <image001.png@01DA>\nContent-Disposition: inline\n\n"
        f"{png}\n--m--\n"
    )
    return make_raw(body, Content_Type='multipart/mixed; boundary="m"')


def test_attachments_and_inline_images_are_decoded():
    msg = parse_message(_attachment_mail())
    assert msg.text == "Se vedhæftede."
    pdf, other, image = msg.attachments
    assert (pdf.filename, pdf.content_type, pdf.data) == (
        "Rådgivning.pdf",
        "application/pdf",
        b"%PDF-1.4 brev",
    )
    assert other.filename == "Søskende.txt" and other.data == b"data"
    assert image.inline and image.content_id == "image001.png@01DA"
    assert image.data.startswith(b"\x89PNG")


def test_nested_message_text_is_kept():
    inner = "From: Borger <borger@example.dk>\nSubject: Klage\n\nJeg vil klage over afgørelsen.\n"
    body = (
        "--n\nContent-Type: text/plain\n\nVideresender klagen.\n"
        f"--n\nContent-Type: message/rfc822\n\n{inner}--n--\n"
    )
    msg = parse_message(make_raw(body, Content_Type='multipart/mixed; boundary="n"'))
    assert "Videresender klagen." in msg.text
    assert "Jeg vil klage over afgørelsen." in msg.text
    assert msg.new_text == "Videresender klagen."


@pytest.mark.parametrize("newline", [b"\r\n", b"\r"])
def test_crlf_and_cr_only_line_endings_parse_like_lf(newline):
    raw = make_raw("Hej\n\nDUBU hænger.\n\nMvh\nTrine\n", Content_Type="text/plain; charset=utf-8")
    expected = parse_message(raw)
    other = parse_message(raw.replace(b"\n", newline))
    assert (other.subject, other.text, other.new_text, other.date) == (
        expected.subject,
        expected.text,
        expected.new_text,
        expected.date,
    )
    assert "\r" not in other.text


def test_text_attachment_stands_in_when_there_is_no_body_text():
    body = (
        "--a\nContent-Type: text/plain; name=besked.txt\n"
        "Content-Disposition: attachment; filename=besked.txt\n\nTeksten ligger her.\n--a--\n"
    )
    msg = parse_message(make_raw(body, Content_Type='multipart/mixed; boundary="a"'))
    assert msg.text == "Teksten ligger her."
    assert msg.attachments[0].filename == "besked.txt"


def test_every_dubu_dev_mail_parses_with_text_and_new_text():
    with (DUBU_DEV / "labels.csv").open(encoding="utf-8") as handle:
        files = [row["file"] for row in csv.DictReader(handle)]
    assert len(files) == 240
    for name in files:
        msg = parse_message((DUBU_DEV / name).read_bytes())
        assert msg.text.strip(), name
        assert msg.new_text.strip(), name
        assert "\ufffd" not in msg.text, name


def test_rfc2231_charset_parameter_on_an_8bit_body_is_read():
    raw = make_raw(
        "Brevet står i kø.".encode(),
        Content_Type="text/plain; charset*=us-ascii''utf-8",
        Content_Transfer_Encoding="8bit",
    )
    assert parse_message(raw).text == "Brevet står i kø."


def test_nul_byte_in_a_charset_label_is_survived():
    raw = make_raw(Subject="=?utf\x00-8?Q?Fejl_p=C3=A5_sag?=")
    assert "Fejl" in parse_message(raw).subject


def test_utf8_with_pasted_windows_1252_keeps_both():
    data = "Sagen om Søren – ".encode() + "se notatet fra 1999: “Bevilling ændret”".encode("cp1252")
    data += " og barnets plan – ændret i går.".encode()
    raw = make_raw(data, Content_Type="text/plain; charset=utf-8", Content_Transfer_Encoding="8bit")
    msg = parse_message(raw)
    assert (
        msg.text == "Sagen om Søren – se notatet fra 1999: “Bevilling ændret” og barnets plan – "
        "ændret i går."
    )
    assert any("mixed" in defect for defect in msg.defects)


def test_a_character_split_over_two_encoded_words_is_joined():
    msg = parse_message(make_raw(Subject="=?utf-8?Q?Fejl_p=C3?= =?utf-8?Q?=A5_sag?="))
    assert msg.subject == "Fejl på sag"


def test_encoded_words_with_spaces_inside_are_decoded():
    msg = parse_message(make_raw(Subject="=?UTF-8?Q? Personal=C3=A4nderung i DUBU?="))
    assert msg.subject == "Personaländerung i DUBU"
