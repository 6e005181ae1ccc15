import pytest
import torch

from engine.aggregation import aggregate
from engine.config import AggregatorConfig
from engine.errors import AggregatorBoundError


def _updates(*values: float) -> list[torch.Tensor]:
    return [torch.tensor([v]) for v in values]


@pytest.mark.parametrize("name", ["trimmed_mean", "median"])
def test_with_f_1_the_outlier_has_no_influence(name: str) -> None:
    config = AggregatorConfig(name=name, f=1)
    result = aggregate(_updates(0.2, 0.5, 0.7, 12.0), config)
    assert result.item() == pytest.approx(0.6)
    assert aggregate(_updates(0.2, 0.5, 0.7, 1e9), config).item() == pytest.approx(0.6)


def test_the_mean_is_moved_by_the_outlier() -> None:
    assert aggregate(_updates(0.2, 0.5, 0.7, 12.0), AggregatorConfig("mean")).item() == pytest.approx(3.35)


def test_krum_picks_an_honest_update() -> None:
    config = AggregatorConfig("krum", f=1)
    picked = aggregate(_updates(0.2, 0.5, 0.7, 0.6, 12.0), config).item()
    assert picked in (pytest.approx(0.5), pytest.approx(0.6))
    assert aggregate(_updates(0.2, 0.5, 0.7, 0.6, 1e9), config).item() == pytest.approx(picked)


@pytest.mark.parametrize(
    ("config", "n", "message"),
    [
        (AggregatorConfig("krum", f=1), 4, "krum needs n >= 2f\\+3: n=4, f=1"),
        (AggregatorConfig("median", f=2), 4, "median needs n >= 2f\\+1"),
        (AggregatorConfig("trimmed_mean", f=2), 4, "trimmed_mean cuts 2 per side of 4"),
        (AggregatorConfig("mean", f=1), 4, "mean tolerates no faulty update"),
    ],
)
def test_configurations_beyond_the_bound_are_refused(config: AggregatorConfig, n: int, message: str) -> None:
    with pytest.raises(AggregatorBoundError, match=message):
        aggregate(_updates(*range(n)), config)


def test_non_finite_updates_never_reach_a_result() -> None:
    with pytest.raises(AggregatorBoundError, match="non-finite"):
        aggregate(_updates(0.1, float("nan"), 0.3), AggregatorConfig("median"))


def test_coordinate_wise_median_works_per_coordinate() -> None:
    updates = [torch.tensor([1.0, 10.0]), torch.tensor([2.0, -5.0]), torch.tensor([3.0, 0.0])]
    assert aggregate(updates, AggregatorConfig("median", f=1)).tolist() == [2.0, 0.0]
