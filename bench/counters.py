"""Names shared by the bench's workers (which count) and its driver (which reads).

The workers write only with HINCRBY and HSETNX, and the driver reads with HGET, HGETALL and
INFO; those commands are left out of Redis's command counts, so counting costs nothing
measured.
"""

from __future__ import annotations

# A hash the bench app's workers HINCRBY: statements, store_reads, pings, finished (paynet.call
# runs that ended, not in a retry) and the gateway's own Redis commands by kind (``redis:*``).
COUNTS = "bench:counts"
# A hash of moments (epoch seconds), written once each with HSETNX:
#   requested:<stale generation>  a refresh was requested (the refresh task published; in place:
#                                  the asking task began the login)
#   refresh:<stale generation>    "start,end" of the refresher's first run for that generation
#   login:<n>                     "start,end" of a login
#   run:<task id>:<retries>       "start,due" of a retry of paynet.call (a waiting task's next
#                                  look), due: when its countdown ended
EVENTS = "bench:events"
# Task id -> "epoch seconds,generation" of its first rejection.
CAUGHT = "bench:caught"
NOT_COUNTED = frozenset(
    {"cmdstat_hincrby", "cmdstat_hget", "cmdstat_hgetall", "cmdstat_info", "cmdstat_hsetnx"}
)

# What the gateway's own Redis client sends, by kind.
MARK = "mark"  # reads of the token's state mark (a waiting or rejected task's look)
REQUEST = "request"  # refresh requests (SET NX per stale generation)
NOTE = "note"  # the last rejection, for operators
REFRESHER = "refresher"  # the refresher's: lock, budget, request upkeep, the new mark
KINDS = (MARK, REQUEST, NOTE, REFRESHER)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def gateway_command(args: tuple[object, ...]) -> str:
    """The kind of one command of the gateway's Redis client, from its arguments."""
    name = _text(args[0]).upper() if args else ""
    key = _text(args[1]) if len(args) > 1 else ""
    options = {_text(a).upper() for a in args[2:]}
    if key.startswith("paynet:token-state:"):
        return MARK if name == "GET" or "NX" in options else REFRESHER
    if key.startswith("paynet:refresh-requested:") and name == "SET" and "NX" in options:
        return REQUEST
    if key.startswith("paynet:token-rejected:"):
        return NOTE
    return REFRESHER
