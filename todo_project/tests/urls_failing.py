"""Test-only URLconf: the project's URLs plus plain views that fail, for the errors Django itself
handles (a 500, a body over DATA_UPLOAD_MAX_MEMORY_SIZE)."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from todo_project.urls import handler400, handler404, handler500  # noqa: F401  (the resolver reads them here)

SECRET_DETAIL = "SELECT password FROM accounts_user -- s3cr3t-internal-detail"


class FailingApiView(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request: Request) -> Response:
        raise RuntimeError(SECRET_DETAIL)


def failing_django_view(request: HttpRequest) -> HttpResponse:
    raise RuntimeError(SECRET_DETAIL)


@csrf_exempt
def body_reading_django_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(len(request.body))


urlpatterns = [
    path("api/test-only/body-reading-django-view/", body_reading_django_view),
    path("api/test-only/failing-api-view/", FailingApiView.as_view()),
    path("api/test-only/failing-django-view/", failing_django_view),
    path("", include("todo_project.urls")),
]
