"""The rate grammar of the API_RATE_LIMIT_* settings (`600/min`, `20/15min`): one definition for the
settings that validate a rate at start-up and the throttles that apply it.

Standard library only: todo_project/settings.py imports it before Django is configured.
"""

import re

UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60}
UNITS |= {"h": 3600, "hour": 3600, "d": 86400, "day": 86400}
_UNIT = "|".join(UNITS)
RATE = re.compile(rf"(?P<limit>[1-9][0-9]*)/(?P<count>[1-9][0-9]*)?(?P<unit>{_UNIT})s?")
