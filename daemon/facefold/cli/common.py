"""What every command shares: the options, opening the library, printing, and the one mapping
from errors to messages and exit codes."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from facefold.config import ConfigError, load_settings

if TYPE_CHECKING:
    from facefold.core import Library

EXIT_FAILED = 1  # the command ran and something it was asked to do failed
EXIT_USAGE = 2  # the command line is wrong (as click reports its own usage errors)
EXIT_CONFIG = 78  # EX_CONFIG: a person must fix the config, weights or database URL first;
# the systemd unit does not restart on it (RestartPreventExitStatus=78)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="config file (default: ./config.yaml)",
                 envvar="FACEFOLD_CONFIG", dir_okay=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]

F = TypeVar("F", bound=Callable[..., Any])


class UsageError(ValueError):
    """The arguments cannot be used as given; the message says how to call the command."""


def _error_map() -> list[tuple[type[BaseException], int]]:
    """Exceptions a user can cause, each with its exit code. Imported lazily: `persons` must not
    pay for TensorFlow's import."""
    from sqlalchemy.exc import OperationalError

    from facefold.core.training import DatasetError
    from facefold.db.engine import DatabaseURLError
    from facefold.db.people import PeopleError
    from facefold.people.names import NameRefused
    from facefold.vision.weights import WeightsError
    from facefold.web.server import WebListenError

    return [(WebListenError, EXIT_FAILED), (WeightsError, EXIT_CONFIG), (DatabaseURLError, EXIT_CONFIG),
            (UsageError, EXIT_USAGE), (DatasetError, EXIT_USAGE),
            (PeopleError, EXIT_FAILED), (NameRefused, EXIT_FAILED),
            (OperationalError, EXIT_FAILED)]


@contextmanager
def exit_on_errors() -> Iterator[None]:
    """Turn the errors a user can cause into a message on stderr and an exit code."""
    try:
        yield
    except ConfigError as exc:
        err.print("[bold red]invalid configuration:[/]")
        for line in exc.errors:
            err.print(f"  {line}", markup=False, highlight=False)
        raise typer.Exit(EXIT_CONFIG) from None
    except Exception as exc:
        for kind, code in _error_map():
            if isinstance(exc, kind):
                reason = getattr(exc, "orig", None) or exc
                err.print(f"[bold red]error:[/] {reason}", highlight=False)
                raise typer.Exit(code) from None
        raise


def command(group: typer.Typer, name: str | None = None, **kwargs: Any) -> Callable[[F], F]:
    """Register a command on `group` with the error mapping around it."""
    def register(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kw: Any) -> Any:
            with exit_on_errors():
                return fn(*args, **kw)

        group.command(name, **kwargs)(run)
        return fn
    return register


def open_library(config: Path | None, role: str = "facefold") -> Library:
    """The library of the config file (the default one when None), with logging set up;
    `role` names this process when it claims photos (Library.claimer)."""
    from facefold.core import Library
    from facefold.log import setup_logging

    settings = load_settings(config)
    setup_logging(settings.logging.level)
    return Library(settings, role=role)


def say(text: str) -> None:
    """A line of plain output (no markup, no wrapping)."""
    out.print(text, markup=False, highlight=False)


def warn(text: str) -> None:
    err.print(text, markup=False, highlight=False)


def print_json(data: Any) -> None:
    def plain(x: Any) -> Any:
        return asdict(x) if is_dataclass(x) and not isinstance(x, type) else x

    print(json.dumps([plain(x) for x in data] if isinstance(data, list) else plain(data),
                     ensure_ascii=False, default=str))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    table = Table(*headers)
    for r in rows:
        table.add_row(*[str(v) for v in r])
    out.print(table)


def box_text(box: Sequence[float]) -> str:
    return ", ".join(f"{v:.0f}" for v in box)
