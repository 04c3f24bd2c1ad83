"""A function's init phase runs with Python's cyclic garbage collector paused.

Importing boto3 and Powertools and creating a client allocate about 150,000 long-lived objects, and the
200-odd collections during the import walk them again and again: pausing them takes the API function's
import from 1.37x to 1.12x `import boto3` plus one client (bench/handler.py). Each function module imports
this module first (isort's force-to-top in pyproject.toml), which pauses collection, and calls `done()` as
its last statement: everything the init made moves to the permanent generation, so collections during
requests skip it too, and collection resumes. A failed init leaves collection paused; Lambda discards an
execution environment whose init failed.
"""

from __future__ import annotations

import gc

_PAUSED_HERE = gc.isenabled()
gc.disable()


def done() -> None:
    """End of the init phase: freeze what it allocated and resume collection (if this module paused it)."""
    gc.freeze()
    if _PAUSED_HERE:
        gc.enable()
