"""Each request's share of a group commit's outcome (fireline.calls.group): what ingesting its calls
alone would have answered it."""

from __future__ import annotations

from fireline.calls import dead_letters
from fireline.calls.service import IngestOutcome, PreparedCall


def split(outcome: IngestOutcome, requests: list[list[str]]) -> list[IngestOutcome]:
    """Each request's share of a group's outcome (`requests`: each one's call ids): what `ingest`
    would have answered for it alone (a call id sent by two requests of one group is the first
    one's; the second sees a duplicate)."""
    inserted: dict[str, PreparedCall] = {p.id: p for p in outcome.inserted}
    dead: dict[str, list[dead_letters.Dead]] = {}
    for d in outcome.dead:
        dead.setdefault(str(d.call_id), []).append(d)
    unprepared = {d.call_id for d in outcome.dead if d.stage == "prepare"}
    shares = []
    for request in requests:
        ids = [i for i in request if i not in unprepared]
        mine = [inserted.pop(i) for i in dict.fromkeys(ids) if i in inserted]
        my_dead = [d for i in dict.fromkeys(request) for d in dead.pop(i, [])]
        refused = {d.call_id for d in my_dead}
        duplicates = len(ids) - sum(1 for i in ids if i in refused) - len(mine)
        shares.append(IngestOutcome(ids=ids, inserted=mine, duplicates=duplicates, dead=my_dead))
    return shares
