"""Where perpsim keeps a person's data by default."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def default_data_dir() -> Path:
    """The platform's user data directory for perpsim.

    Linux and other Unix: ``$XDG_DATA_HOME/perpsim`` (``~/.local/share/perpsim``); macOS:
    ``~/Library/Application Support/perpsim``; Windows: ``%LOCALAPPDATA%\\perpsim``.
    """
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "perpsim"
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "perpsim"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "perpsim"
