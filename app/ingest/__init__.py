"""Ingestion: from raw mail (IMAP or files) to stored tickets, follow-ups, noise or quarantine."""
