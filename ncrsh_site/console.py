"""The web console at ``/`` (a page of static modules built on the JavaScript SDK in sdk/js,
which signs in with the API's own login) and the Postman collection at a stable URL."""

from __future__ import annotations

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

POSTMAN_COLLECTION = settings.CLIENTS_DIR / "postman" / "postman-collection.json"


@require_safe
def console(request: HttpRequest) -> HttpResponse:
    return render(request, "console/index.html")


@require_safe
def postman_collection(request: HttpRequest) -> FileResponse:
    """``sdk/postman/postman-collection.json``, as ``npm run generate`` made it from the OpenAPI document."""
    if not POSTMAN_COLLECTION.is_file():
        raise Http404(f"no Postman collection at {POSTMAN_COLLECTION} (set NCRSH_CLIENTS_DIR to the sdk folder)")
    return FileResponse(POSTMAN_COLLECTION.open("rb"), content_type="application/json")
