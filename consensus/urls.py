from django.urls import path

from consensus.api import ConsensusHistoryApi, ConsensusStatusApi, ConsensusVoteApi

urlpatterns = [
    path("consensus/history", ConsensusHistoryApi.as_view(), name="consensus-history"),
    path("consensus/status", ConsensusStatusApi.as_view(), name="consensus-status"),
    path("consensus/vote", ConsensusVoteApi.as_view(), name="consensus-vote"),
]
