import pytest


@pytest.mark.django_db
def test_feed(api_client, user):
    pass
