"""The Django project. The Celery app is loaded with it so that `shared_task`s bind to it."""

from todo_project.celery import app as celery_app

__all__ = ("celery_app",)
