"""Reading the config file's TOML, each way it can fail named in one line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from malsync.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


def read_config_file(path: Path) -> dict[str, Any]:
    """The file's tables; one line naming the file and the reason where it cannot be read."""
    try:
        with open(path, "rb") as handle:
            tables: dict[str, Any] = tomllib.load(handle)
            return tables
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path}: not UTF-8 text (at byte offset {error.start}); save it as UTF-8"
        ) from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror})") from None
