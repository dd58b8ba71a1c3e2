"""OnExp: when a timer fires (cron-compatible fields, an IANA zone, Debian cron's DST rules).

``OnExp(expr, tz)`` parses and checks at construction; ``next``, ``iter`` and ``matches``
answer in real instants.  The grammar and the DST rules are documented in ``docs/onexp.md``.
"""

from ._fields import DayOfMonth as DayOfMonth
from ._fields import DayOfWeek as DayOfWeek
from ._fields import Fields as Fields
from ._onexp import OnExp as OnExp

__all__ = ["DayOfMonth", "DayOfWeek", "Fields", "OnExp"]
