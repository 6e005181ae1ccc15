"""n nodes as threads of one process, meeting in an in-memory exchange (or any other)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence

import torch

from engine.data import Corpus
from engine.exchange import Exchange, InMemoryExchange, MemoryStore
from engine.node import NodeResult, NodeSpec, Reporter, Resume, train_node


def run_local_swarm(
    specs: Sequence[NodeSpec],
    *,
    corpus: Corpus,
    exchange_factory: Callable[[], Exchange] | None = None,
    reporters: Mapping[str, Reporter] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    initial_state: Mapping[str, torch.Tensor] | None = None,
    resume: Resume | None = None,
    device: torch.device | None = None,
) -> list[NodeResult]:
    """Train every spec on its own thread; results in spec order. The first failure is re-raised."""
    if exchange_factory is None:
        store = MemoryStore()

        def exchange_factory() -> Exchange:
            return InMemoryExchange(store)

    results: dict[str, NodeResult] = {}
    errors: list[BaseException] = []

    def run(spec: NodeSpec) -> None:
        try:
            results[spec.node_id] = train_node(
                spec,
                corpus=corpus,
                exchange=exchange_factory(),
                reporter=(reporters or {}).get(spec.node_id),
                should_stop=should_stop,
                initial_state=initial_state,
                resume=resume,
                device=device,
            )
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(spec,), name=spec.node_id) for spec in specs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [results[spec.node_id] for spec in specs]
