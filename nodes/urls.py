from django.urls import path

from nodes.api import NetworkDiscoverApi, NodeCollectionApi, NodeDetailApi

urlpatterns = [
    path("nodes", NodeCollectionApi.as_view(), name="nodes"),
    path("nodes/<str:node_id>", NodeDetailApi.as_view(), name="node-detail"),
    path("network/discover", NetworkDiscoverApi.as_view(), name="network-discover"),
]
