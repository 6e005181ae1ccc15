from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"

    def ready(self) -> None:
        from prometheus_client import REGISTRY

        from training.metrics import TrainingCollector

        REGISTRY.register(TrainingCollector())
