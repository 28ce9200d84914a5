"""Outgoing mail: the outbox, the templates, and the sender."""
