"""What the CLI shows and keeps: tables, progress bars, and the saved login (a 0600 file)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO


# --- the saved login ----------------------------------------------------------------------------
def credentials_path() -> Path:
    """``NCRSH_CREDENTIALS``, else ``$XDG_CONFIG_HOME/ncrsh/credentials.json`` (~/.config by default)."""
    if os.environ.get("NCRSH_CREDENTIALS"):
        return Path(os.environ["NCRSH_CREDENTIALS"])
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "ncrsh" / "credentials.json"


@dataclass
class Credentials:
    url: str
    username: str
    access: str
    refresh: str

    @classmethod
    def load(cls) -> Credentials | None:
        try:
            data = json.loads(credentials_path().read_text())
            return cls(data["url"], data["username"], data["access"], data["refresh"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self) -> Path:
        """Written readable by its owner only: the tokens are as good as the password for a while."""
        path = credentials_path()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)  # also when the file was there before, with looser rights
        with os.fdopen(descriptor, "w") as sink:
            json.dump(asdict(self), sink)
        return path


# --- output -------------------------------------------------------------------------------------
def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], out: TextIO = sys.stdout) -> None:
    cells = [["-" if c is None else f"{c:.4g}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    print("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(), file=out)
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)


def as_json(value: Any, out: TextIO = sys.stdout) -> None:
    print(json.dumps(value, indent=2, default=str), file=out)


def human_bytes(size: float) -> str:
    if size < 1024:
        return f"{size:.0f} B"
    for unit in ("KiB", "MiB"):
        size /= 1024
        if size < 1024:
            return f"{size:.1f} {unit}"
    return f"{size / 1024:.1f} GiB"


class ProgressBar:
    """``[#####.....]  50%  <text>`` redrawn in place on a terminal; a line per update otherwise
    (a log file or a pipe gets every update, without carriage returns)."""

    def __init__(self, out: TextIO = sys.stderr, width: int = 24) -> None:
        self.out, self.width = out, width
        self.live = out.isatty()
        self.drawn = False

    def update(self, fraction: float | None, text: str) -> None:
        if fraction is None:
            line = text
        else:
            fraction = min(max(fraction, 0.0), 1.0)
            filled = round(fraction * self.width)
            line = f"[{'#' * filled}{'.' * (self.width - filled)}] {fraction:4.0%}  {text}"
        if self.live:
            self.out.write(f"\r\033[K{line}")
        else:
            self.out.write(f"{line}\n")
        self.out.flush()
        self.drawn = True

    def close(self) -> None:
        if self.live and self.drawn:
            self.out.write("\n")
            self.out.flush()
