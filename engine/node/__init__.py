"""A node of the swarm: what it is given and gives back (``spec``), and its run (``run``):
inner steps, rounds with its peers, progress reports, stopping."""

from engine.node.probe import Probe
from engine.node.run import train_node
from engine.node.spec import (
    OUTER_MOMENTUM,
    NodeResult,
    NodeSpec,
    NullReporter,
    Reporter,
    Resume,
    RoundRecord,
    cpu_state,
    fingerprint,
    node_batches,
    node_total_steps,
)

__all__ = [
    "OUTER_MOMENTUM",
    "NodeResult",
    "NodeSpec",
    "NullReporter",
    "Probe",
    "Reporter",
    "Resume",
    "RoundRecord",
    "cpu_state",
    "fingerprint",
    "node_batches",
    "node_total_steps",
    "train_node",
]
