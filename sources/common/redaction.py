"""Secret values are registered once and scrubbed from every log line and error message."""

from __future__ import annotations

import logging
import threading

_MIN_LENGTH = 4  # shorter values would scrub ordinary text ("1", "eu")
_lock = threading.Lock()
_secrets: set[str] = set()
MASK = "***"


def register_secret(*values: object) -> None:
    with _lock:
        for value in values:
            if value is None:
                continue
            text = str(value)
            if len(text) >= _MIN_LENGTH:
                _secrets.add(text)


def redact(text: str) -> str:
    if not _secrets:
        return text
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Renders the record once, scrubbed, so no handler can print a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = redact(message)
        if scrubbed != message or record.args:
            record.msg, record.args = scrubbed, ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def install_redaction(*loggers: logging.Logger) -> None:
    """Attach the filter to the handlers of the given loggers (root and dlt by default)."""
    targets = loggers or (logging.getLogger(), logging.getLogger("dlt"))
    for logger in targets:
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
