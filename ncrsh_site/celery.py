"""The Celery app: a worker process is a swarm node (``ncrsh worker``)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ncrsh_site.settings")

app = Celery("ncrsh")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["training"])
