"""Logging to stderr in a form journald shows well: one line per event, with the syslog priority
as a `<N>` prefix when stderr is the journal (systemd reads it as the line's level)."""

from __future__ import annotations

import logging
import os
import sys

SYSLOG_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
                   logging.CRITICAL: 2}
QUIET_LOGGERS = ("tensorflow", "absl", "h5py", "alembic", "numba", "watchdog", "PIL", "faiss")


class JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prio = SYSLOG_PRIORITY.get(record.levelno, 6)
        text = super().format(record)
        return "\n".join(f"<{prio}>{line}" for line in text.splitlines())


def setup_logging(level: str) -> None:
    """Send facefold's log to stderr at `level`; third-party chatter only from WARNING up."""
    handler = logging.StreamHandler(sys.stderr)
    to_journal = bool(os.environ.get("JOURNAL_STREAM"))
    fmt = "%(name)s: %(message)s" if to_journal else "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler.setFormatter(JournalFormatter(fmt) if to_journal else logging.Formatter(fmt, "%H:%M:%S"))
    logging.basicConfig(level=getattr(logging, level), handlers=[handler], force=True)
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
