"""Map any exception from building or running a source to an exit code and one line.

dlt wraps what a resource raises (PipelineStepFailed → ResourceExtractionError → ours),
so the chain is walked to the first error we raised ourselves; dlt's configuration
errors become configuration lines that name the key and where to set it."""

from __future__ import annotations

from dlt.common.configuration.exceptions import (
    ConfigFieldMissingException,
    ConfigurationValueError,
    ConfigValueCannotBeCoercedException,
)
from dlt.common.configuration.specs.base_configuration import is_secret_hint
from dlt.common.schema.exceptions import DataValidationError
from dlt.pipeline.exceptions import PipelineStepFailed

from sources.common.errors import ConfigError, PipelineError, config_key_help
from sources.common.http import HttpPolicy
from sources.common.redaction import redact

SECRET_KEYS = ("token", "key", "secret", "password", "credentials", "account_id", "client_id")


def _chain(exc: BaseException):
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def classify(exc: BaseException, source: str | None = None) -> tuple[int, str]:
    """(exit code, one redacted line) for a failure of `source`."""
    for link in _chain(exc):
        if isinstance(link, PipelineError):
            return link.exit_code, link.in_context(source=source).line()
        if isinstance(link, DataValidationError):
            return 1, _contract_line(link, source)
        config = _config_error(link, source)
        if config is not None:
            return config.exit_code, config.line()
    root = list(_chain(exc))[-1]  # dlt's wrappers repeat the cause; the last link is it
    text = " ".join(str(root).split()) or type(root).__name__
    if type(root).__name__ == "OutOfMemoryException":  # DuckDB, at its memory_limit
        text = text.split(" Possible solutions:")[0][:200] + (
            "; raise memory_limit in destinations.toml ([<destination>.credentials] "
            "global_config) and rerun"
        )
    prefix = f"{source}: " if source else ""
    step = f" (during {exc.step})" if isinstance(exc, PipelineStepFailed) else ""
    return 1, redact(f"{prefix}{type(root).__name__}{step}: {text[:300]}")


def _contract_line(exc: DataValidationError, source: str | None) -> str:
    column = f", column {exc.column_name}" if exc.column_name else ""
    prefix = f"{source}: " if source else ""
    return redact(
        f"{prefix}{exc.table_name}: schema contract broken: table {exc.table_name}{column} "
        f"would change {exc.schema_entity} frozen by schema_contract = {exc.contract_mode} "
        '(allow it with schema_contract = "evolve" or discard it with "discard_value")'
    )


def _is_secret(exc: ConfigFieldMissingException, key: str) -> bool:
    """A `dlt.secrets.value` field (dlt's spec says so), or one named like a secret."""
    try:
        hint = exc.config.get_resolvable_fields().get(key)
    except Exception:  # a spec without fields: fall back on the name
        hint = None
    return (hint is not None and is_secret_hint(hint)) or any(s in key for s in SECRET_KEYS)


def _where(exc: ConfigFieldMissingException, source: str, key: str) -> str:
    """Where to set a missing key: a source setting, or a destination's (by dlt's traces)."""
    tried = [t.key for t in exc.traces.get(key, []) if t.key.startswith("DESTINATION__")]
    named = [k for k in tried if k.count("__") >= 2]
    if named:
        env = min(named, key=len)
        section = ".".join(env.lower().split("__")[:-1])
        return f"set {env} or {key} in [{section}] of .dlt/secrets.toml"
    return config_key_help(source, key, secret=_is_secret(exc, key))


# dlt's coercion error names the field, not its section: these live in `[sources.x.http]`
_HTTP_FIELDS = frozenset(HttpPolicy.get_resolvable_fields())


def _config_error(exc: BaseException, source: str | None) -> ConfigError | None:
    name = source or "sources"
    if isinstance(exc, ConfigFieldMissingException):
        keys = list(exc.fields)
        hints = "; ".join(_where(exc, name, k) for k in keys)
        return ConfigError(f"missing setting(s) {', '.join(keys)}", source=source, hint=hints)
    if isinstance(exc, ConfigValueCannotBeCoercedException):
        hint_type = getattr(exc.hint, "__name__", str(exc.hint))
        key = f"http.{exc.field_name}" if exc.field_name in _HTTP_FIELDS else exc.field_name
        return ConfigError(
            f"setting {key} = {exc.field_value!r} cannot be read as {hint_type}",
            source=source,
            hint=config_key_help(name, key),
        )
    if isinstance(exc, ConfigurationValueError):
        return ConfigError(f"invalid configuration: {exc}", source=source)
    return None
