from django.urls import path

from consensus.api import ConsensusHistoryApi, ConsensusStatusApi

urlpatterns = [
    path("consensus/history", ConsensusHistoryApi.as_view(), name="consensus-history"),
    path("consensus/status", ConsensusStatusApi.as_view(), name="consensus-status"),
]
