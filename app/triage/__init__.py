"""Triage: classification (rules plus a statistical model), CPR masking, routing."""
