"""bench.scale's URLs: the API's, and a bare Django view doing ``GET /api/v1/nodes``'s work."""

from __future__ import annotations

from typing import cast

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication

from nodes import selectors


def bare_nodes(request: HttpRequest) -> JsonResponse:
    """``GET /api/v1/nodes``'s work without DRF: the same authentication, the same queries and
    rows, JsonResponse."""
    # It reads only the request's headers: a plain HttpRequest does (no DRF Request built here).
    if JWTAuthentication().authenticate(cast(Request, request)) is None:
        return JsonResponse({}, status=401)
    nodes = selectors.node_list()
    total, active = selectors.node_counts(nodes)
    limit = int(request.GET.get("limit", 100))
    page = [selectors.node_row(n) for n in nodes.only(*selectors.NODE_LIST_FIELDS)[:limit]]
    return JsonResponse({"nodes": page, "total": total, "active": active}, encoder=DjangoJSONEncoder)


urlpatterns = [path("bench/nodes", bare_nodes), path("", include("ncrsh_site.urls"))]
