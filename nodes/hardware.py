"""What a node has to train with, as its worker reports it at registration (no CUDA is
initialised here: in a worker only the child process touches the GPU)."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any


def host_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def gpus(device: str) -> list[dict[str, Any]]:
    """The GPUs behind ``device`` as nvidia-smi describes them: ``[{"index", "name",
    "memory_total" (bytes)}]``; empty for ``cpu``, and when it cannot be told."""
    if not device.startswith("cuda"):
        return []
    smi = shutil.which("nvidia-smi")
    index = device.split(":", 1)[1] if ":" in device else "0"
    if smi is None or not index.isdigit():
        return []
    try:
        answer = subprocess.run(  # noqa: S603 - nvidia-smi by its path, a GPU index of digits
            [smi, "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits", "-i", index],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        found = []
        for line in answer.stdout.strip().splitlines():
            number, rest = line.split(",", 1)
            name, mib = rest.rsplit(",", 1)  # a name may hold commas; the memory is last
            found.append({"index": int(number), "name": name.strip(), "memory_total": int(mib) << 20})
        return found
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return []


def device_memory(device: str) -> int | None:
    """Bytes of memory of ``device`` (``cpu``: the host's; ``cuda:N``: that GPU's, from
    nvidia-smi); None when it cannot be told."""
    if not device.startswith("cuda"):
        return host_memory()
    found = gpus(device)
    return found[0]["memory_total"] if found else None
