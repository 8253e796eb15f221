"""Errors that end up as one line on stderr and an exit code.

Every failure a user can act on is one of these; the CLI maps `exit_code` to the process
exit status (INTERFACE.md: 1 source failed, 2 configuration, 3 authentication)."""

from __future__ import annotations

from sources.common.redaction import redact


class PipelineError(Exception):
    """A failure with enough context for a one-line message: source, resource, endpoint."""

    exit_code = 1

    def __init__(
        self,
        cause: str,
        *,
        source: str | None = None,
        resource: str | None = None,
        endpoint: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(cause)
        self.cause = cause
        self.source = source
        self.resource = resource
        self.endpoint = endpoint
        self.hint = hint

    def in_context(
        self, *, source: str | None = None, resource: str | None = None
    ) -> PipelineError:
        """Fill in where the error happened, keeping what the raiser already knew."""
        self.source = self.source or source
        self.resource = self.resource or resource
        return self

    def line(self) -> str:
        parts = [p for p in (self.source, self.resource, self.endpoint) if p]
        text = ": ".join([*parts, self.cause])
        if self.hint:
            text += f" ({self.hint})"
        return redact(" ".join(text.split()))

    def __str__(self) -> str:
        return self.line()


class ConfigError(PipelineError):
    """A missing or invalid setting; names the key and where it is set."""

    exit_code = 2


class AuthError(PipelineError):
    """The vendor rejected our credentials or denied access (HTTP 401/403)."""

    exit_code = 3


class VendorError(PipelineError):
    """The vendor answered with an error, or kept failing after retries."""


class MalformedResponse(VendorError):
    """A body that is not what the protocol promises (HTML instead of JSON, cut short)."""


class ForeignHostError(VendorError):
    """The vendor pointed us at a host that is not one of its configured hosts."""


class JobFailed(VendorError):
    """An asynchronous vendor job ended in failure or was cancelled."""


class JobTimeout(VendorError):
    """An asynchronous vendor job did not finish within its time limit."""


def config_key_help(source: str, key: str, *, secret: bool = False) -> str:
    """Where a user sets `key` of `source`: the file and the environment variable."""
    file = ".dlt/secrets.toml" if secret else ".dlt/config.toml"
    *tables, leaf = key.split(".")  # "http.max_attempts": key max_attempts of [sources.x.http]
    section = ".".join(["sources", source, *tables])
    env = "__".join(["SOURCES", source, *tables, leaf]).upper()
    return f"set {leaf} in [{section}] of {file} or {env}"
