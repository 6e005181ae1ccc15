"""Dataset specs to text, with no torch (the web process checks a spec before it starts a session).

builtin:pystdlib              the running Python's standard library sources: real text on every machine
file:<path or glob>           text files inside one of the allowed data roots
<name>                        the folder <data_dir>/<name> of .txt files
huggingface:<name>[/<config>] through the ``datasets`` library (its local cache, or the network)
"""

from __future__ import annotations

import glob
import itertools
import os
import re
import socket
import sysconfig
from collections.abc import Iterator, Sequence
from pathlib import Path

from engine.errors import DatasetUnavailable

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+){0,2}")
READ_BLOCK = 8 * 1024 * 1024


def _file_texts(paths: Sequence[Path], spec: str) -> Iterator[str]:
    """Each file in blocks of about ``READ_BLOCK`` bytes, cut after a newline (so never inside
    a line, nor inside a UTF-8 character); files are separated by a newline."""
    ended = True  # the text so far ends a line
    for path in paths:
        try:
            with path.open("rb") as handle:
                tail = b"" if ended else b"\n"
                while block := handle.read(READ_BLOCK):
                    block = tail + block
                    cut = block.rfind(b"\n")
                    if cut < 0:
                        tail = block
                        continue
                    yield block[: cut + 1].decode("utf-8", errors="replace")
                    tail, ended = block[cut + 1 :], True
                if tail.strip(b"\n"):
                    yield tail.decode("utf-8", errors="replace")
                    ended = False
        except OSError as exc:
            raise DatasetUnavailable(f"{spec}: cannot read {path.name}: {exc.strerror}") from None


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    resolved = path.resolve()
    return any(resolved.is_relative_to(root.resolve()) for root in roots)


def file_paths(pattern: str, spec: str, roots: Sequence[Path]) -> list[Path]:
    if not roots:
        raise DatasetUnavailable(f"{spec}: no data roots are allowed on this node (set NCRSH_DATA_DIR)")
    candidates = [pattern] if os.path.isabs(pattern) else [str(root / pattern) for root in roots]
    paths: list[Path] = []
    for candidate in candidates:
        paths.extend(Path(p) for p in sorted(glob.glob(candidate, recursive=True)) if Path(p).is_file())
    # Every file, symlinks resolved, inside a root; the error names the spec's file, never where
    # on this server it leads.
    outside = [p for p in paths if not _inside(p, roots)]
    if outside:
        raise DatasetUnavailable(f"{spec}: {outside[0].name} is outside the allowed data roots")
    if not paths:
        raise DatasetUnavailable(f"{spec}: no file matches inside the allowed data roots")
    return paths


def _pystdlib_paths() -> list[Path]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    skip = ("site-packages", "test", "tests", "idlelib", "lib2to3", "__pycache__")
    return [p for p in sorted(stdlib.rglob("*.py")) if not set(p.relative_to(stdlib).parts) & set(skip)]


def _hub_reachable(timeout: float = 3.0) -> bool:
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def _huggingface(spec: str, name: str) -> Iterator[str]:
    path, _, config = name.partition("/")
    if "/" in config:  # org/name/config
        path, config = f"{path}/{config.split('/')[0]}", config.split("/", 1)[1]
    if Path(path).exists():  # the datasets library would read this folder of the working directory
        raise DatasetUnavailable(f"{spec}: a Hub name that is also a local folder here is refused; use file:<path>")
    try:
        import datasets
        from huggingface_hub import constants as hub_constants
    except ImportError:
        raise DatasetUnavailable(f"{spec}: install the 'datasets' package (pip install ncrsh-swarm[hf])") from None
    # The local cache first, offline; the network only when it answers (then streamed: nothing
    # is downloaded whole), never a hang of retries.
    offline = not _hub_reachable()
    saved = datasets.config.HF_HUB_OFFLINE, hub_constants.HF_HUB_OFFLINE
    datasets.config.HF_HUB_OFFLINE = hub_constants.HF_HUB_OFFLINE = offline
    try:
        dataset = datasets.load_dataset(path, config or None, split="train", streaming=not offline)
    except Exception as exc:  # noqa: BLE001 - datasets raises many unrelated types for "not here"
        where = "not in the local cache, and the hub is unreachable" if offline else "cannot be loaded"
        raise DatasetUnavailable(f"{spec}: {where}: {exc}") from None
    finally:
        datasets.config.HF_HUB_OFFLINE, hub_constants.HF_HUB_OFFLINE = saved
    # The first row names the columns (a streamed dataset may not know them in advance).
    rows = iter(dataset)
    first = next(rows, None)
    if first is None:
        return
    column = next((c for c in ("text", "content") if c in first), None)
    if column is None:
        raise DatasetUnavailable(f"{spec}: no 'text' column (columns: {', '.join(first)})")
    for row in itertools.chain([first], rows):
        yield str(row[column]) + "\n"


def check_spec(spec: str) -> None:
    """The spec's syntax alone, no I/O (the web request's check); ``DatasetUnavailable`` says why."""
    kind, sep, rest = spec.partition(":")
    if not sep:
        if not spec.replace("-", "").replace("_", "").isalnum():
            raise DatasetUnavailable(
                f"{spec}: unknown dataset (use builtin:pystdlib, file:<path>, huggingface:<name>"
                " or the name of a folder in NCRSH_DATA_DIR)"
            )
    elif kind == "builtin":
        if rest != "pystdlib":
            raise DatasetUnavailable(f"{spec}: the only builtin dataset is builtin:pystdlib")
    elif kind == "file":
        if ".." in Path(rest).parts:
            raise DatasetUnavailable(f"{spec}: '..' is not allowed in dataset paths")
        if not rest:
            raise DatasetUnavailable(f"{spec}: name a file or a glob, e.g. file:corpus/*.txt")
    elif kind == "huggingface":
        if not rest:
            raise DatasetUnavailable(f"{spec}: name the dataset, e.g. huggingface:wikitext/wikitext-2-raw-v1")
        # A Hub name only: the datasets library would take a path for a local folder.
        if not HUB_NAME.fullmatch(rest) or ".." in rest.split("/"):
            raise DatasetUnavailable(
                f"{spec}: not a Hub dataset name ([org/]name[/config] of letters, digits, '-', '_', '.');"
                " local files are file:<path>"
            )
    else:
        raise DatasetUnavailable(f"{spec}: unknown dataset kind {kind!r} (builtin, file, huggingface)")


def locate(spec: str, *, data_roots: Sequence[Path] = (), data_dir: Path | None = None) -> list[Path] | None:
    """The local files a spec names, found without reading them; None for a hub dataset (only
    the node that loads it can tell whether it is there)."""
    check_spec(spec)
    kind, sep, rest = spec.partition(":")
    if not sep:
        if data_dir is None:
            raise DatasetUnavailable(f"{spec}: no NCRSH_DATA_DIR to find the folder in")
        folder = data_dir / spec
        paths = sorted(folder.glob("*.txt")) if folder.is_dir() else []
        if not paths:
            raise DatasetUnavailable(f"{spec}: no folder of .txt files of that name in NCRSH_DATA_DIR")
        if not all(_inside(p, [data_dir]) for p in paths):  # the folder, or a file in it, is a symlink out
            raise DatasetUnavailable(f"{spec}: leads outside NCRSH_DATA_DIR")
        return paths
    if kind == "builtin":
        return _pystdlib_paths()
    if kind == "file":
        return file_paths(rest, spec, [*data_roots, *([data_dir] if data_dir else [])])
    return None


def iter_texts(spec: str, *, data_roots: Sequence[Path] = (), data_dir: Path | None = None) -> Iterator[str]:
    """The text a dataset spec names, streamed in pieces; ``DatasetUnavailable`` says why not."""
    paths = locate(spec, data_roots=data_roots, data_dir=data_dir)
    texts = _huggingface(spec, spec.partition(":")[2]) if paths is None else _file_texts(paths, spec)
    empty = True
    for text in texts:
        empty = empty and not text
        yield text
    if empty:
        raise DatasetUnavailable(f"{spec}: holds no text")


def load_bytes(
    spec: str,
    *,
    data_roots: Sequence[Path] = (),
    data_dir: Path | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> bytes:
    """At most ``max_bytes`` of the text a spec names, in memory (benchmarks and tests; the
    workers read prepared, memory-mapped token shards)."""
    out = bytearray()
    for text in iter_texts(spec, data_roots=data_roots, data_dir=data_dir):
        out += text.encode("utf-8")
        if len(out) >= max_bytes:
            break
    return bytes(out[:max_bytes])
