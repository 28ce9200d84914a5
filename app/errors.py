"""Domain errors: the one module the web layer maps to HTTP answers.

Services raise these; they never raise HTTP errors and never see a request.
"""


class DubuTriageError(Exception):
    """Base of every error this service raises on purpose."""


class ConfigError(DubuTriageError):
    """The configuration file is missing, malformed, or names an unknown key."""


class RulesError(DubuTriageError):
    """A file in routing_rules/ is invalid; the message names the file and the rule."""


class NotFoundError(DubuTriageError):
    """The thing asked for does not exist (or the caller may not know it exists)."""


class PermissionDeniedError(DubuTriageError):
    """The person may not do this; the refusal is recorded in the audit log."""


class InvalidActionError(DubuTriageError):
    """The action is not possible in the current state (e.g. forwarding a question)."""


class MailboxError(DubuTriageError):
    """The IMAP server could not be reached or refused us."""


class ParseError(DubuTriageError):
    """A message could not be parsed at all; it is quarantined with this error."""
