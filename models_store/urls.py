from django.urls import path

from models_store.api import ModelDownloadApi, ModelExportApi, ModelGenerateApi, ModelListApi, ModelLoadApi

urlpatterns = [
    path("models", ModelListApi.as_view(), name="models"),
    path("models/load", ModelLoadApi.as_view(), name="models-load"),
    path("models/<str:model_id>/download", ModelDownloadApi.as_view(), name="models-download"),
    path("models/<str:model_id>/export", ModelExportApi.as_view(), name="models-export"),
    path("models/<str:model_id>/generate", ModelGenerateApi.as_view(), name="models-generate"),
]
