"""Secret values are registered once and scrubbed from every log line and error message."""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

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


# names of settings that hold credentials, in a vendor object we load (a connection's
# configuration): their values never reach the destination
_CREDENTIAL_NAMES = re.compile(r"pass|secret|token|credential|private_?key|api_?key", re.I)


def masked_credentials(config: Any) -> Any:
    """`config` with the value of every credential-looking key (at any depth) masked."""
    if isinstance(config, dict):
        return {
            k: MASK if _CREDENTIAL_NAMES.search(str(k)) else masked_credentials(v)
            for k, v in config.items()
        }
    if isinstance(config, list):
        return [masked_credentials(v) for v in config]
    return config


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
