from django.apps import AppConfig


class ConsensusConfig(AppConfig):
    name = "consensus"

    def ready(self) -> None:
        from prometheus_client import REGISTRY

        from consensus.metrics import ConsensusCollector

        REGISTRY.register(ConsensusCollector())
