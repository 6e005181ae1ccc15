"""The web console's page and modules, and the Postman collection, as Django serves them."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from ncrsh_site.console import POSTMAN_COLLECTION


@pytest.fixture
def web() -> Client:
    return Client()


def test_the_console_page_loads_its_module_without_a_login(web: Client) -> None:
    page = web.get("/")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<script type="module" src="/static/console/app.js">' in html
    assert 'id="login-form"' in html
    assert web.post("/").status_code == 405


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        ("/static/console/app.js", "from '../sdk/index.js'"),
        ("/static/console/console.css", "svg#curve"),
        ("/static/sdk/index.js", "export { SwarmClient"),
        ("/static/sdk/resources.js", "class Consensus"),
    ],
)
def test_the_console_modules_and_the_sdk_are_served(web: Client, path: str, needle: str) -> None:
    response = web.get(path)
    assert response.status_code == 200
    assert needle in b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]


def test_the_postman_collection_is_served_as_kept_in_the_repository(web: Client) -> None:
    response = web.get("/api/v1/postman-collection.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    served = json.loads(b"".join(response.streaming_content))  # type: ignore[attr-defined]
    assert served == json.loads(POSTMAN_COLLECTION.read_text())
    login = served["item"][0]["item"][0]["request"]
    assert (login["method"], login["url"]["host"], login["url"]["path"]) == (
        "POST",
        ["{{baseUrl}}"],
        ["api", "v1", "auth", "login"],
    )
