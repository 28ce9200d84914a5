"""Services: the operations people and jobs perform, with their permission checks.

Services take a SQLAlchemy session and plain values, never a Flask request, and raise only the
errors of app.errors.
"""
