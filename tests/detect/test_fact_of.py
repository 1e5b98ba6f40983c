"""`fact_of`'s shortcuts (a naive time's minute without the tz copy; one tool call without the dedup)
give what the plain forms gave."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from fireline.calls.service import PreparedCall
from fireline.detect.service import fact_of, minute_of_time


def plain_minute(at: datetime) -> int:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return int(at.timestamp() // 60)


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
       st.one_of(st.none(), st.integers(-14 * 60, 14 * 60)))
def test_minute_of_time_is_the_timestamps_minute(at: datetime, offset: int | None) -> None:
    if offset is not None:
        at = at.replace(tzinfo=timezone(timedelta(minutes=offset)))
    assert minute_of_time(at) == plain_minute(at)


names = st.one_of(st.none(), st.just(""), st.sampled_from(["search", "refund", "0"]), st.integers(0, 2))


@given(st.lists(st.fixed_dictionaries({}, optional={"name": names}), max_size=4))
def test_tools_are_the_distinct_names_in_order(tool_calls: list[dict[str, object]]) -> None:
    p = PreparedCall(row={"id": "c", "app": "a", "started_at": datetime(2026, 1, 5, 9)},
                     raw={"tool_calls": tool_calls}, redacted={}, redactor=None,  # type: ignore[arg-type]
                     raw_blob=b"")
    expected = tuple(dict.fromkeys(str(t.get("name")) for t in tool_calls if t.get("name")))
    assert fact_of(p).tools == expected
