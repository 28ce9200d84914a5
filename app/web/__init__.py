"""The superusers' web view (Flask)."""
