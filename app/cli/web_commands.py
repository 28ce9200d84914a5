"""CLI commands of the web area: serve, user set-password, demo."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from app.cli import command_runtime, get_settings
from app.db import session_scope


def _run(app: object, host: str, port: int) -> None:
    """Serve `app` with the Flask development server (gunicorn in production: docs/WEB.md)."""
    from werkzeug.serving import run_simple

    run_simple(host, port, app, use_reloader=False, threaded=True)  # type: ignore[arg-type]


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@click.pass_context
def serve_command(ctx: click.Context, host: str, port: int) -> None:
    """Serve the web view with the development server (use gunicorn in production)."""
    from app.web import create_app

    click.echo(f"serving the web view at http://{host}:{port}/ (Ctrl-C stops)")
    _run(create_app(get_settings(ctx)), host, port)


@click.group("user")
def user_group() -> None:
    """Accounts of the people of the configuration."""


def _read_password() -> str:
    """Prompt twice on a terminal; otherwise read one line from standard input."""
    if sys.stdin.isatty():
        return str(click.prompt("New password", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\r\n")


@user_group.command("set-password")
@click.argument("email")
@click.pass_context
def set_password_command(ctx: click.Context, email: str) -> None:
    """Set the web view password of the configured person EMAIL."""
    from app.services.auth import set_password

    password = _read_password()
    with command_runtime(ctx) as runtime, session_scope(runtime.sessions) as session:
        person = set_password(session, email, password)
        click.echo(f"password set for {person.name} <{person.email}>")


@click.command("demo")
@click.option("--folder", default="demo-instance", show_default=True, type=click.Path(file_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Prepare the instance, print the accounts, and stop.")
def demo_command(folder: str, host: str, port: int, no_serve: bool) -> None:
    """A demo instance with the Korsbæk people and mail; needs no configuration."""
    from app.demo import prepare_demo
    from app.web import create_app
    from app.web.labels import ROLE_NAMES

    click.echo(f"preparing the demo in {Path(folder).resolve()} …")
    demo = prepare_demo(Path(folder), host, port)
    click.echo(f"mail: {demo.imported}")
    click.echo("demo accounts (e-mail, role, password):")
    for email, role, password in demo.accounts:
        click.echo(f"  {email:32} {ROLE_NAMES.get(role, role):20} {password}")
    click.echo(f"web view: {demo.url}/")
    if not no_serve:
        _run(create_app(demo.settings), host, port)


COMMANDS: tuple[click.Command, ...] = (serve_command, user_group, demo_command)
