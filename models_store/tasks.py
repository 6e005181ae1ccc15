import contextlib

from celery import shared_task


@shared_task(name="models_store.prepare_dataset", acks_late=True)
def prepare_dataset(name: str) -> None:
    """A dataset's preparation, claimed by the API request that sent it here."""
    from engine.errors import EngineError
    from models_store.dataset_services import dataset_prepare

    with contextlib.suppress(EngineError):  # recorded in the row and the dataset_prepared event
        dataset_prepare(name=name)
