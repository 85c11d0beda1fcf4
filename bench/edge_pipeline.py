"""Edge hot path: normalize → window on one core, fed in batches and one sample at a time.

Also the upstream byte budget: what the uplink sends (window summaries, gzip-batched) against
a gateway forwarding every raw sample as a JSON message, and against gzip-batched raw samples.

    .venv/bin/python bench/edge_pipeline.py [--signals 5000] [--samples 5000000]
"""

from __future__ import annotations

import argparse
import gzip
import json
import time

import numpy as np

from egiz.contracts import SiteConfig
from egiz.edge.normalize import Catalog, RefMap, normalize
from egiz.edge.outbox import LANE_SUMMARY, Item, Outbox
from egiz.edge.samples import Ref, RefTable, SampleBatch, SampleBuffer
from egiz.edge.uplink import Uplink
from egiz.edge.window import Windower

T0 = 1_800_000_000.0


def site(signals: int, per_asset: int = 10) -> SiteConfig:
    """A site of ``signals`` signals, ``per_asset`` per asset."""
    sigs = [{"name": f"s{i}", "unit": "degC", "range": [-50, 150]} for i in range(per_asset)]
    return SiteConfig.model_validate(
        {
            "site": {"id": "bench"},
            "asset_types": [{"name": "thing", "signals": sigs}],
            "assets": [
                {"id": f"a{i}", "type": "thing", "area": "x"} for i in range(signals // per_asset)
            ],
            "sources": [],
            "uplink": {"edge_id": "bench"},
        }
    )


def setup(signals: int):
    cfg = site(signals)
    cat = Catalog.from_site(cfg)
    refs = RefTable()
    for asset, signal in cat.keys:
        refs.add(Ref(asset, signal, "degF"))  # a unit conversion on every sample
    rm = RefMap(refs, cat)
    rm.sync()
    return cfg, cat, rm


def batched(signals: int, samples: int, batch: int, rate_hz: float, records: bool = False) -> float:
    """Samples/s through normalize + window, ``batch`` samples per call.

    The windower hands back statistics as arrays; ``records`` also turns every window into the
    dict the outbox stores (what the agent does next, before JSON and SQLite).
    """
    _cfg, cat, rm = setup(signals)
    w = Windower(cat, 10.0, 0.0, closed_k=-(2**62))
    rng = np.random.default_rng(0)
    # Round-robin over signals at rate_hz each: data time advances, windows close as they go.
    ref = np.arange(batch, dtype=np.int32) % signals
    vals = rng.normal(150, 20, batch)
    qual = np.zeros(batch, np.uint8)
    step = batch / signals / rate_hz
    n = samples // batch
    t = time.perf_counter()
    for i in range(n):
        ts = T0 + i * step + (np.arange(batch) // signals) / rate_hz
        norm = normalize(SampleBatch(ref, ts, vals, qual, 0.0), rm)
        w.add(norm)
        done = w.close()
        if records:
            for r in done:
                r.record()
    for r in w.close(10**12):
        if records:
            r.record()
    return n * batch / (time.perf_counter() - t)


def one_at_a_time(signals: int, samples: int, flush_every: int, rate_hz: float) -> float:
    """Samples/s when each sample arrives alone (a callback per value) and is batched here."""
    _cfg, cat, rm = setup(signals)
    w = Windower(cat, 10.0, 0.0, closed_k=-(2**62))
    buf = SampleBuffer()
    add = buf.add
    t = time.perf_counter()
    for i in range(samples):
        add(i % signals, T0 + (i // signals) / rate_hz, 150.0 + (i % 7), 0)
        if len(buf) >= flush_every:
            w.add(normalize(buf.take(0.0), rm))
            w.close()
    w.add(normalize(buf.take(0.0), rm))
    w.close(10**12)
    return samples / (time.perf_counter() - t)


def upstream_bytes(signals: int, seconds: int, rate_hz: float) -> dict[str, float]:
    """Bytes sent upstream for ``seconds`` of data vs a raw-sample JSON gateway."""
    cfg, cat, rm = setup(signals)
    w = Windower(cat, 10.0, 0.0, closed_k=-(2**62))
    n = int(signals * rate_hz * seconds)
    rng = np.random.default_rng(1)
    ref = (np.arange(n) % signals).astype(np.int32)
    ts = T0 + (np.arange(n) // signals) / rate_hz
    vals = np.round(rng.normal(150, 5, n), 3)
    w.add(normalize(SampleBatch(ref, ts, vals, np.zeros(n, np.uint8), 0.0), rm))
    results = w.close(10**12)
    ob = Outbox(":memory:", 10**10, 10**10)
    ob.add(
        Item(LANE_SUMMARY, r.record(), asset=r.asset, data_ts=r.start, span=r.length_s)
        for r in results
    )
    up = Uplink(cfg.uplink.model_copy(update={"url": "http://x"}), ob, token=None)
    sent = 0
    while True:
        b = ob.begin(500)
        if not b:
            break
        sent += len(gzip.compress(up.body(b), 6)) + 400  # + HTTP headers and TLS framing
        ob.end(b, set(b.seqs))
    heartbeats = seconds / 30 * 600  # one gzip-batched heartbeat every 30 s, ~600 B on the wire
    sent += heartbeats

    # The typical gateway: one JSON message per sample (asset, signal, ts, value, quality),
    # counting only its payload (MQTT/TCP headers would add ~60 B more per message).
    def sample(i):
        return json.dumps(
            {
                "asset": cat.keys[ref[i]][0],
                "signal": cat.keys[ref[i]][1],
                "ts": "2027-01-15T08:00:00.100Z",
                "value": float(vals[i]),
                "quality": "good",
            }
        )

    raw_each = sum(len(sample(i)) for i in range(min(n, 20_000))) / min(n, 20_000)
    raw = raw_each * n
    raw_gz = (
        len(gzip.compress("\n".join(sample(i) for i in range(min(n, 200_000))).encode(), 6))
        * n
        / min(n, 200_000)
    )
    return {
        "samples": n,
        "summary_bytes": sent,
        "raw_json_bytes": raw,
        "raw_gzip_bytes": raw_gz,
        "ratio_vs_raw": raw / sent,
        "ratio_vs_raw_gzip": raw_gz / sent,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--signals", type=int, default=5000)
    p.add_argument("--samples", type=int, default=5_000_000)
    a = p.parse_args()
    print(f"signals {a.signals}, one core")
    for batch in (10_000, 100_000):
        r = batched(a.signals, a.samples, batch, 10.0)
        print(f"batched ({batch:,}/call): {r:,.0f} samples/s")
    r = batched(a.signals, a.samples, 100_000, 10.0, records=True)
    print(f"batched (100,000/call), window records built as dicts: {r:,.0f} samples/s")
    for flush in (1_000, 10_000):
        r = one_at_a_time(a.signals, min(a.samples, 2_000_000), flush, 10.0)
        print(f"one at a time (flush every {flush:,}): {r:,.0f} samples/s")
    u = upstream_bytes(100, 600, 10.0)
    print(
        "upstream, 100 signals at 10 Hz for 600 s, 10 s windows: "
        + json.dumps({k: round(v, 1) for k, v in u.items()})
    )


if __name__ == "__main__":
    main()
