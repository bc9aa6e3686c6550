"""The garbage-collector freeze of a long run, scoped so an embedding process keeps its own.

``gc.freeze()`` moves every object alive now into a permanent generation that collections
skip: after loading a million-line journal, the walk's short-lived allocations no longer
trigger full collections that scan millions of journal objects again (measured: 24 s -> 11 s
for walk and plan over 1M files). But the freeze is process-wide and ``gc.unfreeze()`` thaws
*everything*, so a library must not freeze over a caller's own freeze (a pre-fork server
freezes its heap to keep pages shared) or a caller's ``gc.disable()``.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

__all__ = ["freeze_long_lived"]


def _nothing() -> None:
    return None


def freeze_long_lived() -> Callable[[], None]:
    """Freeze what is alive now, unless the process manages its collector itself.

    Returns the function that undoes exactly this call: ``gc.unfreeze`` when this call froze,
    otherwise nothing. The process's freeze count and enabled state are what they were once
    it has run (a caller that froze, or disabled the collector, is left alone and the run is
    merely slower on huge journals).
    """
    if not gc.isenabled() or gc.get_freeze_count():
        return _nothing
    gc.freeze()
    return gc.unfreeze
