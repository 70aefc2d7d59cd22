"""What task services and selectors raise when they refuse (mapped to problem+json in one place)."""

from core.errors import NotFound, PreconditionFailed


class TaskNotFound(NotFound):
    def __init__(self, task_id: int):
        super().__init__(f"Task {task_id} was not found.")
        self.task_id = task_id


class VersionConflict(PreconditionFailed):
    def __init__(self) -> None:
        super().__init__("The task has changed since you last read it (If-Match does not match).")
