"""Find the project directory and make it the working directory.

dlt reads `.dlt/` from the working directory and relative paths (data/warehouse.duckdb)
resolve against it; cron starts jobs in `/`. So the CLI moves into the project first:
`--project-dir`, else `DLT_PROJECT_DIR`, else the checkout this package lives in."""

from __future__ import annotations

import os
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
