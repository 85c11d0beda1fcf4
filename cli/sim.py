"""`egiz sim`: list, run, site-config, truth, inject, generate — thin wrappers over egiz.simulators."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path

from egiz.contracts.errors import ConfigError, EgizError
from egiz.simulators.errors import ScenarioError, SimulatorError


def register(sub: argparse._SubParsersAction) -> None:
    """Add `egiz sim` and its subcommands."""
    p = sub.add_parser("sim", help="run a simulated industrial site (OPC UA, MQTT, ground truth)")
    s = p.add_subparsers(dest="sim_command", metavar="SUBCOMMAND", required=True)

    ls = s.add_parser("list", help="list asset types and built-in scenarios")
    ls.set_defaults(func=_wrap(run_list))

    r = s.add_parser("run", help="serve a scenario over OPC UA and MQTT in (accelerated) real time")
    _scenario_arg(r)
    r.add_argument("--opcua-host", default="127.0.0.1")
    r.add_argument("--opcua-port", type=int, default=4840)
    r.add_argument("--mqtt", default="mqtt://127.0.0.1:1883", help="broker URL ('' disables MQTT)")
    r.add_argument("--topic-prefix", default="egiz")
    r.add_argument("--qos", type=int, choices=(0, 1, 2), default=1)
    r.add_argument("--retain", action="store_true")
    r.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second")
    r.add_argument("--truth-dir", type=Path, help="write served.jsonl and truth.jsonl here")
    r.add_argument("--seed", type=int, help="override the scenario's seed")
    r.add_argument("--duration", type=float, help="stop after this many wall seconds")
    r.set_defaults(func=_wrap(run_run))

    c = s.add_parser("site-config", help="write the edge site config matching a scenario")
    _scenario_arg(c)
    c.add_argument("--out", type=Path, help="file to write (default: stdout)")
    c.add_argument("--opcua-endpoint", default="opc.tcp://127.0.0.1:4840/egiz/")
    c.add_argument("--mqtt", default="mqtt://127.0.0.1:1883")
    c.add_argument("--topic-prefix", default="egiz")
    c.add_argument("--cloud-url", default="http://127.0.0.1:8000")
    c.add_argument("--edge-id", help="default: <site>-edge")
    c.set_defaults(func=_wrap(run_site_config))

    t = s.add_parser("truth", help="export ground truth (health, modes, RUL) offline as JSON Lines")
    _scenario_arg(t)
    t.add_argument("--hours", type=float, default=24.0, help="simulated horizon")
    t.add_argument("--every-s", type=float, default=3600.0, help="one record per asset this often")
    t.add_argument("--seed", type=int)
    t.add_argument("--out", type=Path, help="file to write (default: stdout)")
    t.set_defaults(func=_wrap(run_truth))


def _scenario_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenario", default="demo", help="built-in name or path to a scenario YAML")


def _wrap(fn):  # translate the simulator's errors into the CLI's one-line errors
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except ScenarioError as err:
            raise ConfigError(
                err.reason, file=err.file, line=err.line, path=err.field, fix=err.fix
            ) from None
        except (SimulatorError, KeyError) as err:
            raise EgizError(str(err).strip("'\"")) from None

    return run


def run_list(_args: argparse.Namespace) -> int:
    """Print asset types and scenarios."""
    from egiz.simulators.catalog import TYPES
    from egiz.simulators.scenario import builtin_names, load_scenario

    print("asset types:")
    for spec in TYPES.values():
        modes = ", ".join(m.name for m in spec.modes)
        print(f"  {spec.name:18} {len(spec.signals)} signals; degradation: {modes}")
    print("scenarios:")
    for name in builtin_names():
        sc = load_scenario(name)
        print(f"  {name:18} {len(sc.assets)} assets, site {sc.site!r}: {sc.description}")
    return 0


def run_run(args: argparse.Namespace) -> int:
    """Serve a scenario until Ctrl-C or --duration."""
    from egiz.simulators.service import SimulatorService

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        async with SimulatorService(
            args.scenario,
            opcua_host=args.opcua_host,
            opcua_port=args.opcua_port,
            mqtt_url=args.mqtt or None,
            topic_prefix=args.topic_prefix,
            mqtt_qos=args.qos,
            mqtt_retain=args.retain,
            speed=args.speed,
            truth_dir=args.truth_dir,
            seed=args.seed,
        ) as sim:
            print(f"OPC UA: {sim.opcua_endpoint or '-'}   MQTT: {args.mqtt or '-'}", flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), args.duration)
            print(f"served: {sim.counts}", flush=True)

    asyncio.run(main())
    return 0


def run_site_config(args: argparse.Namespace) -> int:
    """Write the edge site config for a scenario."""
    import yaml

    from egiz.simulators.scenario import load_scenario
    from egiz.simulators.siteconfig import site_config

    doc = site_config(
        load_scenario(args.scenario),
        args.opcua_endpoint,
        args.mqtt,
        args.cloud_url,
        args.edge_id,
        topic_prefix=args.topic_prefix,
    )
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def run_truth(args: argparse.Namespace) -> int:
    """Run the scenario offline and print its ground truth every --every-s."""
    from egiz.simulators.engine import Engine
    from egiz.simulators.scenario import load_scenario

    sc = load_scenario(args.scenario)
    engine = Engine(sc, seed=args.seed)
    every = max(1, round(args.every_s / sc.step_s))
    total = round(args.hours * 3600.0 / sc.step_s)
    out = args.out.open("w", encoding="utf-8") if args.out else sys.stdout
    try:
        done = 0
        while done < total:
            n = min(every, total - done)
            engine.advance(n)
            done += n
            for rec in engine.truth():
                out.write(json.dumps(rec) + "\n")
    finally:
        if args.out:
            out.close()
    return 0
