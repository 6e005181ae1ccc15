"""What a node has to train with, as its worker reports it at registration (no CUDA is
initialised here: in a worker only the child process touches the GPU)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

FIGURES = "memory.total,memory.used,utilization.gpu"


def host_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def gpus(*devices: str) -> list[dict[str, Any]]:
    """The GPUs behind ``devices`` (``cuda:N``), in one nvidia-smi call, as it describes them
    now: ``[{"index", "name", "memory_total", "memory_used" (bytes), "utilization" (0 to 1)}]``;
    empty for ``cpu``, and when it cannot be told (a figure it cannot give, "[N/A]", is None)."""
    indexes = [device.split(":", 1)[1] if ":" in device else "0" for device in devices if device.startswith("cuda")]
    smi = shutil.which("nvidia-smi")
    if smi is None or not indexes or not all(index.isdigit() for index in indexes):
        return []
    try:
        answer = subprocess.run(  # noqa: S603 - nvidia-smi by its path, GPU indexes of digits
            [smi, f"--query-gpu=index,name,{FIGURES}", "--format=csv,noheader,nounits", "-i", ",".join(indexes)],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        found = []
        for line in answer.stdout.strip().splitlines():
            number, rest = line.split(",", 1)
            name, total, used, busy = rest.rsplit(",", 3)  # a name may hold commas; the figures are last
            found.append(
                {
                    "index": int(number),
                    "name": name.strip(),
                    "memory_total": int(total) << 20,
                    "memory_used": _figure(used, lambda mib: int(mib) << 20),
                    "utilization": _figure(busy, lambda percent: int(percent) / 100),
                }
            )
        return found
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return []


def _figure(text: str, read: Callable[[str], Any]) -> Any:
    try:
        return read(text.strip())
    except ValueError:
        return None
