"""In-memory OPC UA history for served values, bounded by a horizon in simulated time.

asyncua's HistoryDict prunes by the wall clock and pops from the front of a list; a simulator
running at ``--speed 3600`` (or from a fixed start in the past) needs pruning by data time,
and thousands of writes per second need O(1) appends.
"""

from __future__ import annotations

import bisect
from collections import deque
from datetime import datetime, timedelta

from asyncua import ua
from asyncua.server.history import HistoryStorageInterface


class SimHistory(HistoryStorageInterface):
    """Per-node deques of DataValues ordered by SourceTimestamp, kept for ``horizon_s``."""

    def __init__(self, horizon_s: float, max_response: int = 10000) -> None:
        self.horizon = timedelta(seconds=horizon_s)
        self.max_response = max_response
        self._data: dict[ua.NodeId, deque[ua.DataValue]] = {}

    async def init(self) -> None:
        """Nothing to open."""

    async def new_historized_node(
        self, node_id: ua.NodeId, period: timedelta | None, count: int = 0
    ) -> None:
        """Start keeping history of ``node_id`` (kept across server restarts)."""
        self._data.setdefault(node_id, deque())

    async def save_node_value(self, node_id: ua.NodeId, datavalue: ua.DataValue) -> None:
        """Append a value; drop what is older than the horizon before it."""
        self.save(node_id, datavalue)

    def save(self, node_id: ua.NodeId, datavalue: ua.DataValue) -> None:
        """Synchronous :meth:`save_node_value` for the serving hot path."""
        data = self._data[node_id]
        data.append(datavalue)
        oldest = datavalue.SourceTimestamp - self.horizon
        while data[0].SourceTimestamp < oldest:
            data.popleft()

    async def read_node_history(
        self, node_id: ua.NodeId, start: datetime | None, end: datetime | None, nb_values: int
    ) -> tuple[list[ua.DataValue], datetime | None]:
        """Return values between start and end (OPC UA Part 11 raw read semantics)."""
        data = list(self._data.get(node_id, ()))
        epoch = ua.get_win_epoch()
        start = start or epoch
        end = end or epoch
        stamps = [dv.SourceTimestamp for dv in data]
        if start == epoch:  # newest first, up to end... here: everything before now
            results = (
                list(reversed(data[: bisect.bisect_right(stamps, end)]))
                if end != epoch
                else list(reversed(data))
            )
        elif end == epoch:
            results = data[bisect.bisect_left(stamps, start) :]
        elif start > end:
            results = list(
                reversed(data[bisect.bisect_left(stamps, end) : bisect.bisect_right(stamps, start)])
            )
        else:
            results = data[bisect.bisect_left(stamps, start) : bisect.bisect_right(stamps, end)]
        if nb_values and len(results) > nb_values:
            results = results[:nb_values]
        cont = None
        if len(results) > self.max_response:
            cont = results[self.max_response].SourceTimestamp
            results = results[: self.max_response]
        return results, cont

    async def new_historized_event(self, source_id, evtypes, period, count=0) -> None:
        """Events are not historized by the simulator."""

    async def save_event(self, event) -> None:
        """Events are not historized by the simulator."""

    async def read_event_history(self, source_id, start, end, nb_values, evfilter):
        """Events are not historized by the simulator."""
        return [], None

    async def stop(self) -> None:
        """Keep the data: a restarted server serves the same history."""
