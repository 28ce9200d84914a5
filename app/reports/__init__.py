"""Reports for the system responsible and owner; hypercare digests; retention; the roster."""
