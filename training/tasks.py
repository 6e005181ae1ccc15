from celery import shared_task


@shared_task(name="training.run_node", acks_late=True)
def run_node(session_id: str, node_id: str) -> None:
    """One node's part of a session. Ids in, everything re-fetched; torch is imported here only."""
    from training.runtime import execute_run

    execute_run(session_id, node_id)
