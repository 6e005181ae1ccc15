from django.urls import path

from training.api import SessionDetailApi, SessionListApi, TrainingStartApi, TrainingStatusApi, TrainingStopApi

urlpatterns = [
    path("training/start", TrainingStartApi.as_view(), name="training-start"),
    path("training/status", TrainingStatusApi.as_view(), name="training-status"),
    path("training/stop", TrainingStopApi.as_view(), name="training-stop"),
    path("training/sessions", SessionListApi.as_view(), name="training-sessions"),
    path("training/sessions/<str:session_id>", SessionDetailApi.as_view(), name="training-session"),
]
