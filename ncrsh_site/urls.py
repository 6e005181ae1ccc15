from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from ncrsh_site import console, health
from ncrsh_site.auth import LoginApi, RefreshApi
from ncrsh_site.metrics import metrics_view

api_v1: list[URLPattern | URLResolver] = [
    path("auth/login", LoginApi.as_view(), name="auth-login"),
    path("auth/refresh", RefreshApi.as_view(), name="auth-refresh"),
    path("", include("nodes.urls")),
    path("", include("training.urls")),
    path("", include("models_store.urls")),
    path("", include("consensus.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("postman-collection.json", console.postman_collection, name="postman-collection"),
]

urlpatterns = [
    path("", console.console, name="console"),
    path("api/v1/", include(api_v1)),
    path("api-auth/", include("rest_framework.urls")),
    path("admin/", admin.site.urls),
    path("health", health.health, name="health"),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("metrics", metrics_view, name="prometheus-django-metrics"),
]

handler404 = "ncrsh_site.errors.not_found"
handler500 = "ncrsh_site.errors.server_error"
