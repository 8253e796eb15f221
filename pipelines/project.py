"""Find the project directory and make it the working directory.

dlt reads `.dlt/` from the working directory and relative paths (data/warehouse.duckdb)
resolve against it; cron starts jobs in `/`. So the CLI moves into the project first:
`--project-dir`, else `DLT_PROJECT_DIR`, else the checkout this package lives in."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sources.common.errors import ConfigError

ENV_VAR = "DLT_PROJECT_DIR"
CHECKOUT = Path(__file__).resolve().parent.parent


def enter_project(explicit: str | None) -> Path:
    chosen = explicit or os.environ.get(ENV_VAR) or str(CHECKOUT)
    path = Path(chosen).expanduser().resolve()
    if not (path / ".dlt").is_dir():
        origin = (
            "--project-dir"
            if explicit
            else (ENV_VAR if os.environ.get(ENV_VAR) else "the package's checkout")
        )
        raise ConfigError(
            f"project directory {path} (from {origin}) has no .dlt/ folder",
            hint="point --project-dir or DLT_PROJECT_DIR at the project root",
        )
    os.chdir(path)
    os.environ[ENV_VAR] = str(path)
    return path


def secrets_exposure(project: Path) -> str | None:
    """A warning when `.dlt/secrets.toml` can be read by the group or others, with the fix."""
    secrets = project / ".dlt" / "secrets.toml"
    try:
        mode = stat.S_IMODE(secrets.stat().st_mode)
    except OSError:
        return None
    if not mode & 0o077:
        return None
    who = [name for bits, name in ((0o070, "its group"), (0o007, "others")) if mode & bits]
    return f"{secrets} is open to {' and '.join(who)} (mode {mode:o}); run: chmod 600 {secrets}"
