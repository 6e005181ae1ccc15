"""How an update travels: packed where it lies (GPU or CPU), bytes only where bytes must go.

wire format  bytes/param  what the receiver decodes
float32      4            the update itself
float16      2            the update rounded to fp16
bfloat16     2            the update rounded to bf16
int8         ~1           blockwise absmax quantisation (as in hivemind / bitsandbytes): each block
                          of BLOCK values is sent as int8 codes and one float32 scale
                          (absmax / 127), so one outlier costs precision in its block only

``pack`` and ``unpack`` run on the tensor's device (a GPU quantises 100M values in about a
millisecond); ``to_bytes`` / ``from_bytes`` cross to the host for exchanges that move bytes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from engine.config import BLOCK, FLOAT_BYTES, WIRE_FORMATS, byte_length

_FLOAT_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
assert (*_FLOAT_DTYPES, "int8") == WIRE_FORMATS
assert {wire: dtype.itemsize for wire, dtype in _FLOAT_DTYPES.items()} == FLOAT_BYTES


@dataclass(frozen=True)
class Packed:
    """An update as it travels: ``data`` (float codes, or int8 codes) and, for int8, the blocks'
    float32 ``scales``. ``numel`` is the update's length (int8's last block is zero-padded)."""

    wire: str
    numel: int
    data: torch.Tensor
    scales: torch.Tensor | None = None

    @property
    def nbytes(self) -> int:
        return byte_length(self.wire, self.numel)


def pack(vector: torch.Tensor, wire: str) -> Packed:
    """``vector`` (flat) in the wire format, on its own device."""
    vector = vector.detach().reshape(-1)
    if wire in _FLOAT_DTYPES:
        return Packed(wire, vector.numel(), vector.to(_FLOAT_DTYPES[wire]))
    if wire != "int8":
        raise ValueError(f"wire format must be one of {', '.join(WIRE_FORMATS)}, got {wire!r}")
    numel = vector.numel()
    blocks = -(-numel // BLOCK)
    padded = torch.zeros(blocks * BLOCK, dtype=torch.float32, device=vector.device)
    padded[:numel] = vector
    padded = padded.view(blocks, BLOCK)
    scales = padded.abs().amax(1) / 127.0
    # A non-finite value makes its block's scale non-finite: the receiver sees NaN there, as it
    # would have in float32 (validation rejects it), instead of a silently clipped update.
    codes = (padded / scales.clamp_min(1e-30)[:, None]).round_().clamp_(-127, 127).to(torch.int8)
    return Packed("int8", numel, codes.view(-1), scales)


def unpack(packed: Packed, device: torch.device | None = None) -> torch.Tensor:
    """The float32 vector a receiver decodes, on ``device`` (default: where the codes are)."""
    data = packed.data.to(device, non_blocking=True) if device is not None else packed.data
    if packed.scales is None:
        return data.float()
    scales = packed.scales.to(data.device, non_blocking=True)
    return (data.view(-1, BLOCK).float() * scales[:, None]).view(-1)[: packed.numel]


class Staging:
    """Pinned host memory kept by its owner (a node, an exchange handle) for the copies of
    its updates off a GPU: pinning memory costs more than the copy, so it is done once, and
    grown when a bigger payload comes. What it returns is valid until its next use."""

    def __init__(self) -> None:
        self.buffer: torch.Tensor | None = None

    def host(self, parts: list[torch.Tensor]) -> list[torch.Tensor]:
        """The parts' bytes on the host, one after the other in the pinned buffer (CPU parts
        are returned as they are): asynchronous DMA copies, then one wait for them all."""
        if all(part.device.type == "cpu" for part in parts):
            return [part.contiguous().view(torch.uint8) for part in parts]
        total = sum(part.numel() * part.element_size() for part in parts)
        if self.buffer is None or self.buffer.numel() < total:
            self.buffer = torch.empty(total, dtype=torch.uint8, pin_memory=True)
        views, offset = [], 0
        for part in parts:
            raw = part.contiguous().view(torch.uint8).reshape(-1)
            view = self.buffer[offset : offset + raw.numel()]
            view.copy_(raw, non_blocking=True)
            views.append(view)
            offset += raw.numel()
        for device in {part.device for part in parts if part.device.type == "cuda"}:
            torch.cuda.current_stream(device).synchronize()
        return views


def to_bytes(packed: Packed, staging: Staging | None = None) -> list[memoryview]:
    """The packed update's bytes on the host, as views (scales first, then codes): no extra
    copy; off a GPU, through ``staging`` (a fresh one if none is given)."""
    parts = [packed.scales, packed.data] if packed.scales is not None else [packed.data]
    return [memoryview(part.numpy().data) for part in (staging or Staging()).host(parts)]


def from_bytes(payload: bytes | bytearray | memoryview, wire: str, numel: int) -> Packed:
    """The inverse of ``to_bytes`` (one buffer, on the host); shares ``payload``'s memory, so
    the result is read, never written (received bytes may be read-only)."""
    if len(payload) != byte_length(wire, numel):
        raise ValueError(f"{len(payload)} bytes do not hold {numel} values as {wire}")
    if not len(payload):
        return Packed(wire, 0, torch.empty(0, dtype=_FLOAT_DTYPES.get(wire, torch.int8)))
    with warnings.catch_warnings():  # torch warns of read-only buffers: these are only read
        warnings.simplefilter("ignore", UserWarning)
        raw = torch.frombuffer(payload, dtype=torch.uint8)
    if wire == "int8":
        blocks = -(-numel // BLOCK)
        return Packed(wire, numel, raw[blocks * 4 :].view(torch.int8), raw[: blocks * 4].view(torch.float32))
    return Packed(wire, numel, raw.view(_FLOAT_DTYPES[wire]))
