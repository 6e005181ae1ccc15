import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ncrsh_site.settings")

# Django is set up before anything that imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from ncrsh_site.consumers import EventsConsumer  # noqa: E402

websocket_urls = [path("api/v1/ws", EventsConsumer.as_asgi())]

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Browsers send Origin: it must be one of ALLOWED_HOSTS. Scripts send none and pass.
        "websocket": AllowedHostsOriginValidator(URLRouter(websocket_urls)),
    }
)
