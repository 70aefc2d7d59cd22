"""factory_boy factories for tasks and tags; `TaskFactory(tags=["a", "b"])` attaches the user's tags by
name."""

import factory
from django.utils import timezone

from accounts.tests.factories import UserFactory
from tasks.models import PRIORITY_BY_NAME, Tag, Task
from tasks.rules import tag_key
from tasks.services import tags_get_or_create


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Task {n}")
    description = ""
    completed = False
    completed_at = factory.LazyAttribute(lambda task: timezone.now() if task.completed else None)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        priority = kwargs.get("priority")
        if isinstance(priority, str):
            kwargs["priority"] = PRIORITY_BY_NAME[priority]
        return super()._create(model_class, *args, **kwargs)

    @factory.post_generation
    def tags(task, create, names, **kwargs):
        if create and names:
            # By pk: the tags come back from raw SQL, not bound to a database alias.
            task.tags.add(*[tag.pk for tag in tags_get_or_create(user=task.user, names=names)])


class TagFactory(factory.django.DjangoModelFactory):
    """A user's tag; `key` follows the name as the services would set it."""

    class Meta:
        model = Tag

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"tag{n}")
    key = factory.LazyAttribute(lambda tag: tag_key(tag.name))
