from django.urls import path

from consensus.api import ConsensusHistoryApi, ConsensusVoteApi

urlpatterns = [
    path("consensus/history", ConsensusHistoryApi.as_view(), name="consensus-history"),
    path("consensus/vote", ConsensusVoteApi.as_view(), name="consensus-vote"),
]
