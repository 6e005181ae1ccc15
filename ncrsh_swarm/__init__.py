"""ncrsh-Swarm's Python SDK and the ``ncrsh`` command.

    import ncrsh_swarm as swarm

    tokens = await swarm.login("http://localhost:8080", "admin", password)
    async with swarm.SwarmClient(base_url="http://localhost:8080", auth_token=tokens.access) as client:
        nodes = await client.nodes.list()
        training = await client.training.start(dataset="builtin:pystdlib", epochs=1, batch_size=16)
        async for progress in client.training.stream_progress():
            print(f"Epoch: {progress.epoch}, Loss: {progress.loss}")

Importing it loads neither Django nor torch.
"""

from ncrsh_swarm.client import DEFAULT_URL, SwarmClient, Tokens, login, refresh
from ncrsh_swarm.errors import (
    AuthenticationError,
    Conflict,
    ConnectionFailed,
    ConsensusFailed,
    DownloadCorrupt,
    ModelCorrupt,
    NetworkPartition,
    NodeNotFound,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    SwarmError,
    TrainingInProgress,
    ValidationError,
)
from ncrsh_swarm.types import (
    ConsensusStatus,
    Dataset,
    Decision,
    Discovery,
    History,
    Model,
    NetworkMetrics,
    Node,
    NodeList,
    NodeProgress,
    Progress,
    Session,
    Topology,
    TrainingStatus,
)

__all__ = [
    "DEFAULT_URL",
    "AuthenticationError",
    "Conflict",
    "ConnectionFailed",
    "ConsensusFailed",
    "ConsensusStatus",
    "Dataset",
    "Decision",
    "Discovery",
    "DownloadCorrupt",
    "History",
    "Model",
    "ModelCorrupt",
    "NetworkMetrics",
    "NetworkPartition",
    "Node",
    "NodeList",
    "NodeNotFound",
    "NodeProgress",
    "NotFound",
    "PermissionDenied",
    "Progress",
    "RateLimited",
    "ServerError",
    "Session",
    "SwarmClient",
    "SwarmError",
    "Tokens",
    "Topology",
    "TrainingInProgress",
    "TrainingStatus",
    "ValidationError",
    "login",
    "refresh",
]
