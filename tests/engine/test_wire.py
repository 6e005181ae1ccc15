import pytest
import torch

from engine.config import BLOCK, byte_length
from engine.wire import Staging, from_bytes, pack, to_bytes, unpack


@pytest.mark.parametrize(("wire", "bytes_per_value"), [("float32", 4), ("float16", 2), ("bfloat16", 2), ("int8", 1)])
def test_packing_happens_on_the_tensors_device_and_round_trips_through_bytes(
    device: torch.device, wire: str, bytes_per_value: int
) -> None:
    vector = torch.randn(3 * BLOCK + 5, device=device)
    packed = pack(vector, wire)
    assert packed.data.device.type == device.type
    assert packed.nbytes == byte_length(wire, vector.numel())
    assert packed.nbytes <= vector.numel() * bytes_per_value * 1.01 + BLOCK
    received = unpack(from_bytes(b"".join(to_bytes(packed)), wire, vector.numel()), device)
    assert received.device.type == device.type
    assert torch.equal(received, unpack(packed))  # the bytes carry exactly what was packed
    error = (received - vector).abs().max() / vector.abs().max()
    assert float(error) <= {"float32": 0.0, "float16": 1e-3, "bfloat16": 8e-3, "int8": 1 / 127}[wire]


def test_int8_scales_each_block_by_its_own_absmax(device: torch.device) -> None:
    small = torch.full((BLOCK,), 1e-3, device=device)
    vector = torch.cat([small, torch.full((BLOCK,), 1e3, device=device)])
    received = unpack(pack(vector, "int8"))
    # An outlier block does not flatten its neighbour to zero.
    torch.testing.assert_close(received[:BLOCK], small, rtol=1e-2, atol=0.0)


def test_a_non_finite_value_survives_int8_as_non_finite(device: torch.device) -> None:
    vector = torch.ones(2 * BLOCK, device=device)
    vector[3] = float("nan")
    received = unpack(pack(vector, "int8"))
    assert not torch.isfinite(received[:BLOCK]).all()  # the validation still sees it
    assert torch.isfinite(received[BLOCK:]).all()


def test_bytes_of_the_wrong_length_are_refused() -> None:
    with pytest.raises(ValueError, match="do not hold"):
        from_bytes(b"\x00" * 7, "float32", 2)


def test_a_kept_staging_buffer_carries_each_payload_exactly_and_is_reused(device: torch.device) -> None:
    """A node's staging (pinned memory off a GPU) is reused round after round, and grows when
    a bigger payload comes; every payload's bytes are those packed."""
    staging = Staging()
    for numel, wire in ((BLOCK * 4, "int8"), (BLOCK, "float32"), (BLOCK * 8, "float32")):
        vector = torch.randn(numel, device=device)
        packed = pack(vector, wire)
        received = unpack(from_bytes(b"".join(to_bytes(packed, staging)), wire, numel), device)
        assert torch.equal(received, unpack(packed))
    if device.type == "cuda":
        assert staging.buffer is not None
        assert staging.buffer.is_pinned()
        kept = staging.buffer.data_ptr()
        to_bytes(pack(torch.randn(BLOCK, device=device), "float32"), staging)
        assert staging.buffer.data_ptr() == kept  # fits: no new pinned allocation
    else:
        assert staging.buffer is None  # CPU tensors are their own host bytes
