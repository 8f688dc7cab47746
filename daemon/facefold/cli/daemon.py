"""Commands that run facefold as a service: watch, and the systemd unit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facefold.cli.common import EXIT_FAILED, ConfigOpt, command, open_library, say

group = typer.Typer()
service_group = typer.Typer(no_args_is_help=True, help="The systemd unit.")
group.add_typer(service_group, name="service")


@command(group)
def watch(config: ConfigOpt = None) -> None:
    """Run the daemon: catch up on the inbox, then follow it and keep the folders in step."""
    from facefold.service.run import Daemon

    raise typer.Exit(Daemon(open_library(config)).run())


@command(service_group, "install")
def service_install(
    config: ConfigOpt = None,
    user_unit: Annotated[bool, typer.Option("--user", help="a unit for systemctl --user")] = False,
    run_as: Annotated[str | None, typer.Option("--run-as", help="system unit: the user to run as (default: you)")] = None,
    print_only: Annotated[bool, typer.Option("--print", help="print the unit, write nothing")] = False,
) -> None:
    """Write the systemd unit for this install and config, and print the commands to start it."""
    from facefold.service.units import render_unit, unit_path

    settings = open_library(config or Path("config.yaml")).settings
    text = render_unit(settings, user_unit, run_as)
    if print_only:
        print(text, end="")
        return
    target = unit_path(user_unit)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        say(f"error: cannot write {target}: {exc.strerror} (run as root, or use --user / --print)")
        raise typer.Exit(EXIT_FAILED) from None
    ctl = "systemctl --user" if user_unit else "systemctl"
    say(f"wrote {target}\nnext: {ctl} daemon-reload && {ctl} enable --now facefold\n"
        f"logs: journalctl {'--user ' if user_unit else ''}-u facefold -f")
