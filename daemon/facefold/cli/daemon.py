"""Commands that run facefold as a service: watch, serve, and the systemd unit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facefold.cli.common import EXIT_FAILED, ConfigOpt, UsageError, command, open_library, say

group = typer.Typer()
service_group = typer.Typer(no_args_is_help=True, help="The systemd unit.")
group.add_typer(service_group, name="service")


WebOpt = Annotated[str | None, typer.Option(
    "--web", metavar="HOST:PORT", help="also serve the web app here (default: web.listen; "
    "'' turns it off)")]
ListenOpt = Annotated[str | None, typer.Option(
    "--listen", metavar="HOST:PORT", help="where to serve (default: web.listen, else "
    "127.0.0.1:8750)")]


def _listen(value: str) -> str:
    from facefold.config import parse_listen

    try:
        parse_listen(value)
    except ValueError as exc:
        raise UsageError(f"--listen/--web: {exc}") from None
    return value


@command(group)
def watch(config: ConfigOpt = None, web: WebOpt = None) -> None:
    """Run the daemon: catch up on the inbox, then follow it and keep the folders in step
    (and, with --web or web.listen, serve the web app)."""
    from facefold.service.run import Daemon

    lib = open_library(config, role="watch")
    listen = lib.settings.web.listen if web is None else web
    raise typer.Exit(Daemon(lib, _listen(listen) if listen else None).run())


@command(group)
def worker(config: ConfigOpt = None) -> None:
    """Process queued photos beside a `facefold watch` that owns the library, on this machine
    or another one that sees the inbox at the same path (a shared PostgreSQL database)."""
    import os

    from facefold.service.run import PhotoWorker

    lib = open_library(config, role=f"worker-{os.getpid()}")
    raise typer.Exit(PhotoWorker(lib).run())


@command(group)
def serve(config: ConfigOpt = None, listen: ListenOpt = None) -> None:
    """Serve the web app to see and fix the people, until Ctrl-C (no photos are processed:
    `facefold watch` does that, and can serve the app itself)."""
    from facefold.config import DEFAULT_WEB_LISTEN
    from facefold.web.server import WebServer

    lib = open_library(config)
    server = WebServer(lib, _listen(listen or lib.settings.web.listen or DEFAULT_WEB_LISTEN))
    lib.engine  # noqa: B018  # migrate now: a bad database fails before the address is printed
    say(f"facefold: {server.announce()}  (Ctrl-C stops)")
    try:
        server.run()  # uvicorn stops on SIGINT/SIGTERM, then raises the signal again
    except KeyboardInterrupt:
        pass
    finally:
        lib.close()


@command(service_group, "install")
def service_install(
    config: ConfigOpt = None,
    user_unit: Annotated[bool, typer.Option("--user", help="a unit for systemctl --user")] = False,
    run_as: Annotated[str | None, typer.Option("--run-as", help="system unit: the user to run as (default: you)")] = None,
    print_only: Annotated[bool, typer.Option("--print", help="print the unit, write nothing")] = False,
    worker: Annotated[bool, typer.Option("--worker", help="the unit of a `facefold worker`")] = False,
) -> None:
    """Write the systemd unit for this install and config, and print the commands to start it."""
    from facefold.service.units import render_unit, unit_name, unit_path

    settings = open_library(config or Path("config.yaml")).settings
    text = render_unit(settings, user_unit, run_as, worker=worker)
    if print_only:
        print(text, end="")
        return
    target = unit_path(user_unit, worker)
    name = unit_name(worker)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        say(f"error: cannot write {target}: {exc.strerror} (run as root, or use --user / --print)")
        raise typer.Exit(EXIT_FAILED) from None
    ctl = "systemctl --user" if user_unit else "systemctl"
    say(f"wrote {target}\nnext: {ctl} daemon-reload && {ctl} enable --now {name}\n"
        f"logs: journalctl {'--user ' if user_unit else ''}-u {name} -f")
