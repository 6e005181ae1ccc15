"""What a node has to train with, as its worker reports it at registration (no CUDA is
initialised here: in a worker only the child process touches the GPU)."""

from __future__ import annotations

import os
import shutil
import subprocess


def host_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def device_memory(device: str) -> int | None:
    """Bytes of memory of ``device`` (``cpu``: the host's; ``cuda:N``: that GPU's, from
    nvidia-smi); None when it cannot be told."""
    if not device.startswith("cuda"):
        return host_memory()
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    index = device.split(":", 1)[1] if ":" in device else "0"
    if not index.isdigit():
        return None
    try:
        answer = subprocess.run(  # noqa: S603 - nvidia-smi by its path, a GPU index of digits
            [smi, "--query-gpu=memory.total", "--format=csv,noheader,nounits", "-i", index],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return int(answer.stdout.strip().splitlines()[0]) << 20  # MiB
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None
