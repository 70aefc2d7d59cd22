"""What task services and selectors raise when they refuse (mapped to problem+json in one place)."""

from core.errors import Expired, NotFound, PreconditionFailed


class TaskNotFound(NotFound):
    def __init__(self, task_id: int):
        super().__init__(f"Task {task_id} was not found.")
        self.task_id = task_id


class VersionConflict(PreconditionFailed):
    def __init__(self) -> None:
        super().__init__("The task has changed since you last read it (If-Match does not match).")


class SyncExpired(Expired):
    """A change feed token from before the purge horizon: tombstones it needs may be gone."""

    def __init__(self) -> None:
        super().__init__(
            "Changes this far back are no longer kept (deleted tasks are remembered for "
            "SYNC_TOMBSTONE_DAYS days): sync again without `since`."
        )
