"""HTTP helpers of the webhook tests."""

from typing import Any

from rest_framework.test import APIClient


def webhooks_url(user_id: str, *parts: object, slash: bool = True) -> str:
    url = "/".join([f"/api/{user_id}/webhooks", *(str(part) for part in parts)])
    return url + "/" if slash else url


def create_webhook(
    client: APIClient, user_id: str, url: str, events: list[str] | None = None
) -> dict[str, Any]:
    response = client.post(
        webhooks_url(user_id), {"url": url, "events": events or ["task.created"]}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()
