from django.urls import path

from training.api import SessionDetailApi, SessionListApi, TrainingStartApi, TrainingStatusApi, TrainingStopApi
from training.dataset_api import DatasetDetailApi, DatasetListApi
from training.swarm_api import ConsensusStatusApi, ModelSaveApi, NetworkMetricsApi, NetworkTopologyApi

urlpatterns = [
    path("training/start", TrainingStartApi.as_view(), name="training-start"),
    path("training/status", TrainingStatusApi.as_view(), name="training-status"),
    path("training/stop", TrainingStopApi.as_view(), name="training-stop"),
    path("training/sessions", SessionListApi.as_view(), name="training-sessions"),
    path("training/sessions/<str:session_id>", SessionDetailApi.as_view(), name="training-session"),
    # Under the URLs of other apps (network, consensus, models), served by views that need a session.
    path("network/topology", NetworkTopologyApi.as_view(), name="network-topology"),
    path("network/metrics", NetworkMetricsApi.as_view(), name="network-metrics"),
    path("consensus/status", ConsensusStatusApi.as_view(), name="consensus-status"),
    path("models/save", ModelSaveApi.as_view(), name="models-save"),
    path("datasets", DatasetListApi.as_view(), name="datasets"),
    path("datasets/<str:name>", DatasetDetailApi.as_view(), name="dataset"),
]
