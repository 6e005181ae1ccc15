import pytest
import torch

from engine.wire import BLOCK, byte_length, from_bytes, pack, to_bytes, unpack


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
