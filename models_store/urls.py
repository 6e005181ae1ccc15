from django.urls import path

from models_store.api import ModelDownloadApi, ModelExportApi, ModelListApi, ModelLoadApi

urlpatterns = [
    path("models", ModelListApi.as_view(), name="models"),
    path("models/load", ModelLoadApi.as_view(), name="models-load"),
    path("models/<str:model_id>/download", ModelDownloadApi.as_view(), name="models-download"),
    path("models/<str:model_id>/export", ModelExportApi.as_view(), name="models-export"),
]
