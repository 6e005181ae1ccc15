from django.apps import AppConfig


class NodesConfig(AppConfig):
    name = "nodes"
    verbose_name = "Swarm nodes"

    def ready(self) -> None:
        from prometheus_client import REGISTRY

        from nodes.metrics import NodeCollector

        REGISTRY.register(NodeCollector())
