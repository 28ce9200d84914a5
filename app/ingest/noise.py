"""Recognising automatic mail: our own mail, receipts, calendar answers, bounces, spam,
auto-replies and newsletters (DESIGN.md, "Loops are impossible").

A rule is a small object with a name, a description and `check()` (Mailman's shape); the
rules run in a declared order and the first that fires gives the verdict, with a reason that
names the evidence. The order matters: a bounce carries `Auto-Submitted` too, and a read
receipt is a multipart/report like a bounce. A person's mail is never noise because of
`X-Auto-Response-Suppress` (Outlook adds it to ordinary mail), nor because a ticket system
marked its update on a thread `Auto-Submitted: auto-generated`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields

from app.domain import LOOP_HEADER, NoiseKind, NoiseVerdict, ParsedMessage, is_our_message_id
from app.ingest.spam import phishing_evidence, spam_header_verdict

Check = Callable[[ParsedMessage, tuple[str, ...]], str | None]


@dataclass(frozen=True)
class Rule:
    """One noise rule: `check` returns the evidence (a reason) or None."""

    name: str
    kind: NoiseKind
    description: str
    check: Check


def _subject_rule(words: str) -> re.Pattern[str]:
    """A pattern for subjects that start with one of `words` (after gateway tags)."""
    return re.compile(rf"^\s*(?:\[[^\]]{{0,30}}\]\s*)*\[?(?:{words})", re.IGNORECASE)


RECEIPT_SUBJECT = _subject_rule(
    r"læst\s*:|ikke læst\s*:|read\s*:|not read\s*:|leveret\s*:|delivered\s*:|gelesen\s*:|"
    r"read receipt|return receipt|læsekvittering|leveringsstatus\s*:\s*leveret"
)
CALENDAR_SUBJECT = _subject_rule(
    r"accepteret\s*:|foreløbig(?:t)? accepteret\s*:|accepted\s*:|tentative\s*:|"
    r"tentatively accepted\s*:|angenommen\s*:|mit vorbehalt angenommen\s*:"
)
CALENDAR_DECLINE_SUBJECT = _subject_rule(r"afvist\s*:|declined\s*:|abgelehnt\s*:")
BOUNCE_SUBJECT = _subject_rule(
    r"ikke-leverbar\s*:|kan ikke leveres\s*:|undeliverable\s*:|undelivered mail|undeliverable "
    r"mail|delivery status notification|mail delivery failed|returned mail\s*:|"
    r"delivery failure|failure notice|mail system error|unzustellbar|non remis|"
    r"message not delivered|delivery has failed|mail delivery (?:failure|system)|"
    r"warning: could not send|delivery (?:status )?notification|undelivered message|"
    r"nondeliverable|non-deliverable"
)
AUTOREPLY_SUBJECT = _subject_rule(
    r"autosvar\b|automatisk svar\b|automatisk besked\b|fraværende\s*:|out of (?:the )?office\b|"
    r"automatic reply\b|auto[- ]?reply\b|auto[- ]?response\b|auto\s*:|autoreply\b|"
    r"abwesenheitsnotiz|abwesend\s*:|absence\s*:|\[auto generated\]|auto generated\b|"
    r"on vacation\b|vacation reply\b|away from (?:the|my) office|i am out of (?:the )?office|"
    r"jeg er ikke på kontoret|automatyczna odpowied|thank you for your (?:e-?mail|message)\b|"
    r"tak for din (?:e-?mail|mail|henvendelse)\b|vi har modtaget din (?:e-?mail|henvendelse)\b"
)
# Searched in lower-cased text: a case-insensitive alternation is three times slower.
CHALLENGE = re.compile(
    r"(?:challenge[- ]response|verify (?:that )?you are (?:a )?(?:human|real)|"
    r"(?:approve|verify) (?:your|this) (?:e-?mail|message) (?:to|before)|"
    r"added to (?:my|the) (?:approved senders|whitelist|guest list)|"
    r"boxbe|bluebottle|spam ?arrest)",
)
REPORT_TYPE = re.compile(r"report-type\s*=\s*\"?([\w-]+)", re.IGNORECASE)
ACTION = re.compile(r"^\s*Action\s*:\s*([\w-]+)", re.IGNORECASE | re.MULTILINE)
DAEMON = re.compile(
    r"^(?:mailer-daemon|postmaster|post_master|mail-daemon|maildaemon)(?:@|$)", re.IGNORECASE
)
DAEMON_NAME = re.compile(r"^(?:mail delivery (?:system|subsystem)|mailer-daemon)", re.IGNORECASE)
# Footer phrases of bulk mail; only looked for at the very end of a mail that answers nothing,
# and none that a person asking about unsubscribing someone would write ("afmeld Jens").
# Searched in lower-cased text: a case-insensitive alternation is three times slower.
UNSUBSCRIBE = re.compile(
    r"(?:afmeld (?:dig|nyhedsbrev\w*|abonnement\w*|her)|unsubscribe (?:from|here|at|link)|"
    r"to unsubscribe|/unsubscribe|"
    r"du modtager (?:denne|dette) (?:e-?mail|mail|nyhedsbrev|meddelelse|besked)|"
    r"you (?:are receiving|received) this (?:e-?mail|email|message|newsletter)|"
    r"ønsker du ikke (?:længere |flere )?at modtage|ikke længere ønsker at modtage|"
    r"manage (?:your )?(?:subscription|email preferences)|(?:to|here to) opt[- ]out)",
)
FOOTER_CHARS = 800
REPLY_PREFIX = re.compile(r"^\s*(?:re|sv|aw|vs|fw|fwd|wg|videresendt)\s*:", re.IGNORECASE)


def _header(msg: ParsedMessage, name: str) -> str:
    """A header's value, stripped; "" when absent."""
    return (msg.header(name) or "").strip()


def _parts(msg: ParsedMessage, content_type: str) -> list[bytes]:
    """The data of every attachment of `content_type`."""
    return [a.data for a in msg.attachments if a.content_type == content_type]


def _report_type(msg: ParsedMessage) -> str:
    """The report-type of a multipart/report mail, "" for any other mail."""
    if msg.content_type != "multipart/report":
        return ""
    found = REPORT_TYPE.search(_header(msg, "Content-Type"))
    return found.group(1).lower() if found else "unknown"


def _dsn_actions(msg: ParsedMessage) -> set[str]:
    """The Action: values of the mail's delivery-status parts, lower-case."""
    actions: set[str] = set()
    for data in _parts(msg, "message/delivery-status"):
        text = data.decode("ascii", "replace")
        actions.update(a.lower() for a in ACTION.findall(text))
    return actions


# ---- the checks ----------------------------------------------------------------------------


def _check_loop(msg: ParsedMessage, own: tuple[str, ...]) -> str | None:
    """Our own mail coming back: loop header, our Message-ID, or our own address."""
    if msg.header(LOOP_HEADER) is not None:
        return f"header {LOOP_HEADER}: {_header(msg, LOOP_HEADER)}"
    if is_our_message_id(msg.message_id):
        return f"our own Message-ID {msg.message_id}"
    if msg.from_addr and msg.from_addr in own:
        return f"sent from our own address {msg.from_addr}"
    return None


def _check_receipt(msg: ParsedMessage, own: tuple[str, ...]) -> str | None:
    """A read receipt (MDN), or a delivery notice that only says "delivered"."""
    report = _report_type(msg)
    if report == "disposition-notification" or _parts(msg, "message/disposition-notification"):
        return "Content-Type multipart/report; report-type=disposition-notification"
    actions = _dsn_actions(msg)
    if actions and actions <= {"delivered", "deliverable", "relayed", "expanded"}:
        return f"delivery status notification with Action: {', '.join(sorted(actions))}"
    if RECEIPT_SUBJECT.match(msg.subject):
        return f"subject {msg.subject[:60]!r}"
    return None


def _check_calendar(msg: ParsedMessage, own: tuple[str, ...]) -> str | None:
    """An answer to a meeting invitation."""
    for data in _parts(msg, "text/calendar") + _parts(msg, "application/ics"):
        if re.search(rb"^METHOD:\s*REPLY", data, re.IGNORECASE | re.MULTILINE):
            return "text/calendar part with METHOD:REPLY"
    if CALENDAR_SUBJECT.match(msg.subject):
        return f"subject {msg.subject[:60]!r}"
    if CALENDAR_DECLINE_SUBJECT.match(msg.subject) and _parts(msg, "text/calendar"):
        return f"subject {msg.subject[:60]!r} with a text/calendar part"
    return None


def _check_bounce(msg: ParsedMessage, own: tuple[str, ...]) -> str | None:
    """A delivery failure report."""
    report = _report_type(msg)
    if report:
        return f"Content-Type multipart/report; report-type={report}"
    if _parts(msg, "message/delivery-status"):
        return "a message/delivery-status part"
    if DAEMON.match(msg.from_addr) or (not msg.from_addr and DAEMON_NAME.match(msg.from_name)):
        return f"sent by {msg.from_addr or msg.from_name}"
    if BOUNCE_SUBJECT.match(msg.subject):
        return f"subject {msg.subject[:60]!r}"
    return None


def _check_spam(msg: ParsedMessage, own: tuple[str, ...]) -> str | None:
    """A spam filter's verdict, or the marks of phishing."""
    return spam_header_verdict(msg) or phishing_evidence(msg, own)


def _check_autoreply(msg: ParsedMessage, own: tuple[str, ...]) -> str | None:
    """An out-of-office, vacation, acknowledgement or challenge-response mail."""
    submitted = _header(msg, "Auto-Submitted")
    if submitted and submitted.lower() != "no":
        thread = msg.in_reply_to or msg.references
        # RFC 3834: auto-generated is not an answer; on a thread it is a ticket system's update
        # (the service desk's status mails), which the follow-up matcher must see.
        if not (submitted.lower().startswith("auto-generated") and thread):
            return f"header Auto-Submitted: {submitted}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autogenerated", "X-Auto-Reply"):
        value = _header(msg, name)
        if value and value.lower() not in ("no", "false", "0"):
            return f"header {name}: {value}"
    precedence = _header(msg, "Precedence").lower()
    if precedence == "auto_reply":
        return "header Precedence: auto_reply"
    if AUTOREPLY_SUBJECT.match(msg.subject):
        return f"subject {msg.subject[:60]!r}"
    return None


def _check_challenge(msg: ParsedMessage, own: tuple[str, ...]) -> str | None:
    """A challenge-response mail ("verify you are human"), often dressed as a bounce."""
    challenge = CHALLENGE.search(f"{msg.subject}\n{msg.text[:3000]}".lower())
    if challenge:
        return f"challenge-response mail ({challenge.group(0)!r})"
    return None


def _bulkish(msg: ParsedMessage) -> bool:
    """True when the mail does not answer anything a person wrote."""
    return not (msg.in_reply_to or msg.references)


def _check_newsletter(msg: ParsedMessage, own: tuple[str, ...]) -> str | None:
    """Bulk and list mail, unless it is a person's post to a discussion list."""
    precedence = _header(msg, "Precedence").lower()
    list_post = _header(msg, "List-Post")
    discussion = list_post.lower().startswith("<mailto:")
    if discussion and precedence != "bulk":
        return None
    for name in ("List-Id", "List-Unsubscribe", "List-Subscribe"):
        if msg.header(name) is not None:
            return f"header {name}: {_header(msg, name)[:80]}"
    if precedence in ("bulk", "list", "junk"):
        return f"header Precedence: {precedence}"
    if not REPLY_PREFIX.match(msg.subject) and _bulkish(msg):
        found = UNSUBSCRIBE.search(msg.text[-FOOTER_CHARS:].lower())
        if found:
            return f"unsubscribe text {found.group(0)!r}"
    return None


def _check_null_sender(msg: ParsedMessage, own: tuple[str, ...]) -> str | None:
    """An empty Return-Path: only automatic mail is sent with the null sender."""
    if _header(msg, "Return-Path").replace(" ", "") == "<>":
        return "empty Return-Path <>"
    return None


RULES: tuple[Rule, ...] = (
    Rule("loop", NoiseKind.LOOP, "our own mail came back", _check_loop),
    Rule("receipt", NoiseKind.RECEIPT, "read receipt or delivered notice", _check_receipt),
    Rule("calendar", NoiseKind.CALENDAR, "answer to a meeting invitation", _check_calendar),
    Rule("challenge", NoiseKind.AUTOREPLY, "challenge-response mail", _check_challenge),
    Rule("bounce", NoiseKind.BOUNCE, "delivery failure", _check_bounce),
    Rule("spam", NoiseKind.SPAM, "spam or phishing", _check_spam),
    Rule("autoreply", NoiseKind.AUTOREPLY, "automatic answer", _check_autoreply),
    Rule("newsletter", NoiseKind.NEWSLETTER, "bulk or list mail", _check_newsletter),
    Rule("null-sender", NoiseKind.BOUNCE, "sent with the null sender", _check_null_sender),
)


@dataclass(frozen=True)
class _Indexed(ParsedMessage):
    """The message with `header()` as a dict lookup: the rules ask for some twenty headers."""

    index: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Index the first value of each header by its lower-case name."""
        for name, value in self.headers:
            self.index.setdefault(name.lower(), value)

    def header(self, name: str) -> str | None:
        """The first header called `name` (case-insensitive), or None."""
        return self.index.get(name.lower())


def detect_noise(msg: ParsedMessage, *, own_addresses: tuple[str, ...] = ()) -> NoiseVerdict | None:
    """The verdict of the first rule that fires, or None for a person's mail."""
    own = tuple(a.strip().lower() for a in own_addresses if a and "@" in a)
    indexed = _Indexed(**{f.name: getattr(msg, f.name) for f in fields(ParsedMessage)})
    for rule in RULES:
        reason = rule.check(indexed, own)
        if reason is not None:
            return NoiseVerdict(kind=rule.kind, reason=reason)
    return None
