"""Model state written to the outbox per commit, and commit time, with 500 demo assets.

The site of bench/edge_memory.py (5,000 signals: replicas of the demo scenario's pumps and
motor, health + RUL artifacts pinned by sha256) with 10 s edge windows and the models' 1 h
model windows. Windows are committed through the agent's own ``_commit`` into a real outbox
file; SQLite triggers in that file count the bytes of every ``models…`` meta row written, and
/proc/self/io's wchar the bytes the process passed to write(2) during the commit (WAL frames
are whole pages). Modes:

* ``new``: the agent as it is (rows ``models/<asset>/open`` and ``models/<asset>``, only for
  the assets the commit changed);
* ``old``: the previous code path (every asset's state under one key ``models``, rewritten on
  each commit that closed a window);
* ``none``: the same records and ``closed_k`` without any model state (the floor).

    .venv/bin/python bench/edge_model_state.py [--artifacts DIR] [--mode new|old|none]...
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import edge_memory as em

from egiz.contracts import SiteConfig
from egiz.edge.agent import NO_WINDOW, EdgeAgent
from egiz.edge.outbox import LANE_SUMMARY, Item, Outbox
from egiz.edge.scoring import EdgeModels
from egiz.edge.window import Windower, WindowResult

EDGE_S = 10.0
WATCH = """
CREATE TABLE writes (n INTEGER PRIMARY KEY, key TEXT, bytes INTEGER);
CREATE TRIGGER meta_ins AFTER INSERT ON meta WHEN new.key LIKE 'models%'
  BEGIN INSERT INTO writes (key, bytes) VALUES (new.key, length(new.value)); END;
CREATE TRIGGER meta_upd AFTER UPDATE ON meta WHEN new.key LIKE 'models%'
  BEGIN INSERT INTO writes (key, bytes) VALUES (new.key, length(new.value)); END;
"""


def wchar() -> int:
    with open("/proc/self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("wchar:"))


class Bench:
    def __init__(self, mode: str, pins: list[dict], tmp: Path) -> None:
        doc, _ = em.model_site(1883, 5000, tmp, "demo", pins, 360.0)
        doc["window"] = {"length_s": EDGE_S, "lateness_s": 2.0}
        self.mode = mode
        self.agent = EdgeAgent(SiteConfig.model_validate(doc), base_dir=tmp)
        assert isinstance(self.agent.runner, EdgeModels)
        self.models = self.agent.runner
        self.assets = sorted(self.models.assets)
        self.agent.outbox = Outbox(tmp / "outbox.db", 10**10, 10**9)
        self.agent.windower = Windower(self.agent.catalog, EDGE_S, 2.0, NO_WINDOW)
        self.agent.outbox.db.executescript(WATCH)
        self.rng = np.random.default_rng(0)
        self.t = math.floor(time.time() / 3600) * 3600.0 + 3600.0  # on the hour

    def window(self, asset: str) -> WindowResult:
        signals = self.models.assets[asset].signals
        stats = {s: {"mean": 10 + self.rng.normal(), "count": 10} for s in signals}
        return WindowResult(asset, int(self.t // EDGE_S), self.t, EDGE_S, stats)

    def commit(self, results: list[WindowResult]) -> None:
        if self.mode == "new":
            self.agent._commit(results)
            return
        items = []  # the previous code path of EdgeAgent._commit
        for res in results:
            body = res.record()
            scores = self.models.score(res)
            if scores is not None:
                body["scores"] = scores.model_dump(mode="json")
            items.append(Item(LANE_SUMMARY, body, asset=res.asset, data_ts=res.start,
                              span=res.length_s))  # fmt: skip
        meta = {"closed_k": str(int(self.t // EDGE_S))}
        if results and self.mode == "old":
            meta["models"] = json.dumps(self.models.state())
        assert self.agent.outbox is not None
        self.agent.outbox.add(items, meta=meta)

    def written(self) -> int:
        assert self.agent.outbox is not None
        q = "SELECT COALESCE(SUM(bytes), 0) FROM writes"
        return int(self.agent.outbox.db.execute(q).fetchone()[0])

    def step(self, assets: list[str]) -> tuple[float, int, int]:
        results = [self.window(a) for a in assets]
        b0, w0, t0 = self.written(), wchar(), time.perf_counter()
        self.commit(results)
        dt = time.perf_counter() - t0
        self.t += EDGE_S
        return dt, wchar() - w0, self.written() - b0

    def warm(self, n: int) -> None:
        """Score n edge windows of every asset (so the runner state and trend are full-size),
        then commit one window of every asset: the state is saved."""
        for _ in range(n):
            for a in self.assets:
                self.models.score(self.window(a))
            self.t += EDGE_S
        self.step(self.assets)

    def run(self, label: str, assets: list[str], n: int) -> None:
        got = np.array([self.step(assets) for _ in range(n)], dtype=float)
        med = np.median(got, axis=0)
        print(f"{self.mode:4} {label:31} state written {med[2] / 1024:7.1f} KiB  "
              f"write() {med[1] / 1024:7.1f} KiB  commit median {med[0] * 1e3:6.2f} ms "
              f"p90 {np.percentile(got[:, 0], 90) * 1e3:6.2f} ms  (n={n})")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--artifacts", type=Path, help="DIR/models.yaml pins instead of training")
    p.add_argument("--mode", action="append", choices=["new", "old", "none"])
    a = p.parse_args()
    print(f"load average {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="egiz-state-") as d:
        tmp = Path(d)
        pins = em.train_or_read_pins("demo", a.artifacts, tmp)
        for mode in a.mode or ["old", "new", "none"]:
            work = tmp / mode
            work.mkdir()
            b = Bench(mode, pins, work)
            b.warm(2 * 360 + 5)  # two model windows scored, the third one open
            if mode == "new":
                print(f"{len(b.assets)} assets; whole state {len(json.dumps(b.models.state()))} B")
            b.run("1 of 500 assets", b.assets[:1], 60)
            b.run("25 of 500 assets", b.assets[:25], 40)
            b.run("500 of 500 assets", b.assets, 20)
            while (b.t + EDGE_S) % 3600:  # the next window of every asset closes the hour
                b.step(b.assets)
            b.run("500 of 500, model windows close", b.assets, 1)
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
