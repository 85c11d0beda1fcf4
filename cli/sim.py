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
    r.add_argument(
        "--mqtt-ca", type=Path, help="CA file that issued the broker's certificate (mqtts://)"
    )
    r.add_argument("--topic-prefix", default="egiz")
    r.add_argument("--qos", type=int, choices=(0, 1, 2), default=1)
    r.add_argument("--retain", action="store_true")
    r.add_argument(
        "--mqtt-layout",
        choices=("signal", "document"),
        default="signal",
        help="one message per signal, or one JSON document per asset per step",
    )
    r.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second")
    r.add_argument("--truth-dir", type=Path, help="write served.jsonl and truth.jsonl here")
    r.add_argument("--seed", type=int, help="override the scenario's seed")
    r.add_argument("--duration", type=float, help="stop after this many wall seconds")
    r.add_argument(
        "--history-s", type=float, default=3600.0, help="OPC UA HistoryRead horizon (simulated s)"
    )
    r.add_argument(
        "--control-port", type=int, default=CONTROL_PORT, help="local HTTP control port (-1: off)"
    )
    r.set_defaults(func=_wrap(run_run))

    g = s.add_parser("generate", help="simulate offline as fast as numpy allows, to npz files")
    _scenario_arg(g)
    g.add_argument("--days", type=float, required=True, help="simulated days")
    g.add_argument("--out", type=Path, required=True, help="output directory")
    g.add_argument("--seed", type=int, help="override the scenario's seed")
    g.add_argument("--step-s", type=float, help="override the scenario's step (default: its own)")
    g.add_argument("--truth-every-s", type=float, default=60.0, help="truth label spacing")
    g.set_defaults(func=_wrap(run_generate))

    i = s.add_parser("inject", help="inject a fault into a running simulator (HTTP, 127.0.0.1)")
    i.add_argument("--asset", help="asset id (not needed for communication faults)")
    i.add_argument(
        "--fault",
        required=True,
        help="machine fault (cavitation, imbalance, ...), sensor fault (stuck, drift, spike, "
        "dropout, noise_burst, bad_quality; needs --signal) or communication fault "
        "(server_restart, disconnect, publish_pause)",
    )
    i.add_argument("--signal", help="signal for a sensor fault")
    i.add_argument("--severity", type=float, default=1.0)
    i.add_argument("--duration", type=float, help="simulated seconds (default: until cleared)")
    i.add_argument("--protocol", choices=("opcua", "mqtt"), help="for communication faults")
    i.add_argument(
        "--clear", action="store_true", help="clear the fault (all of the asset's if no --fault)"
    )
    _control_arg(i)
    i.set_defaults(func=_wrap(run_inject))

    st = s.add_parser("status", help="show a running simulator's status and ground truth")
    _control_arg(st)
    st.set_defaults(func=_wrap(run_status))

    c = s.add_parser("site-config", help="write the edge site config matching a scenario")
    _scenario_arg(c)
    c.add_argument("--out", type=Path, help="file to write (default: stdout)")
    c.add_argument("--opcua-endpoint", default="opc.tcp://127.0.0.1:4840/egiz/")
    c.add_argument("--mqtt", default="mqtt://127.0.0.1:1883")
    c.add_argument("--topic-prefix", default="egiz")
    c.add_argument("--mqtt-layout", choices=("signal", "document"), default="signal")
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


CONTROL_PORT = 8720


def _control_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--control", default=f"http://127.0.0.1:{CONTROL_PORT}", help="control URL")


def _call(base: str, method: str, path: str, body: dict | None = None) -> dict:
    import urllib.error
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base.rstrip("/") + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        raise EgizError(json.loads(err.read() or b"{}").get("error", str(err))) from None
    except OSError as err:
        raise EgizError(
            f"no simulator answers at {base} ({err}) (fix: start `egiz sim run` or pass --control)"
        ) from None


def run_generate(args: argparse.Namespace) -> int:
    """Generate signals and truth offline."""
    import time

    from egiz.simulators.generate import generate
    from egiz.simulators.scenario import load_scenario

    began = time.perf_counter()
    manifest = generate(
        load_scenario(args.scenario),
        args.out,
        args.days,
        seed=args.seed,
        truth_every_s=args.truth_every_s,
        step_s=args.step_s,
    )
    took = time.perf_counter() - began
    print(
        f"{manifest['samples']:,} samples of {len(manifest['signals'])} signals in {took:.1f} s "
        f"({manifest['samples'] / took / 1e6:.1f} M samples/s) -> {args.out}"
    )
    return 0


def run_inject(args: argparse.Namespace) -> int:
    """Inject (or clear) a fault through the control endpoint."""
    if args.clear:
        if not args.asset:
            raise EgizError("--clear needs --asset")
        print(
            json.dumps(
                _call(args.control, "POST", "/clear", {"asset": args.asset, "fault": args.fault})
            )
        )
        return 0
    body = {
        "asset": args.asset,
        "fault": args.fault,
        "severity": args.severity,
        "signal": args.signal,
        "duration_s": args.duration,
        "protocol": args.protocol,
    }
    print(json.dumps(_call(args.control, "POST", "/inject", body)))
    return 0


def run_status(args: argparse.Namespace) -> int:
    """Print the status of a running simulator."""
    print(json.dumps(_call(args.control, "GET", "/status"), indent=2))
    return 0


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
            mqtt_layout=args.mqtt_layout,
            mqtt_ca_file=args.mqtt_ca,
            speed=args.speed,
            truth_dir=args.truth_dir,
            seed=args.seed,
            control_port=None if args.control_port < 0 else args.control_port,
            history_s=args.history_s,
        ) as sim:
            print(
                f"OPC UA: {sim.opcua_endpoint or '-'}   MQTT: {args.mqtt or '-'}   "
                f"control: {sim.control_url or '-'}",
                flush=True,
            )
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
        mqtt_layout=args.mqtt_layout,
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
