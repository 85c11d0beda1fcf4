"""`egiz edge`: run the edge agent, check its config, read its local status."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import urllib.error
import urllib.request
from pathlib import Path

from egiz.contracts import SiteConfig, load_yaml_model
from egiz.contracts.errors import EgizError


def register(sub: argparse._SubParsersAction) -> None:
    """Add `egiz edge` and its subcommands to the command tree."""
    p = sub.add_parser(
        "edge",
        help="the edge agent: run, check, status",
        description="Collect OPC UA and MQTT signals, window them, ship them.",
    )
    esub = p.add_subparsers(dest="edge_command", metavar="SUBCOMMAND")
    r = esub.add_parser("run", help="run the agent until Ctrl-C or SIGTERM")
    r.add_argument("--config", required=True, help="site.yaml")
    r.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    r.add_argument(
        "--log-format",
        default="text",
        choices=["text", "json"],
        help="json: one object per line on stderr, for journald/Loki/Elasticsearch",
    )
    r.set_defaults(func=run)
    c = esub.add_parser("check", help="validate a site.yaml and explain what the agent would do")
    c.add_argument("--config", required=True, help="site.yaml")
    c.set_defaults(func=check)
    s = esub.add_parser("status", help="show a running agent's status (its local endpoint)")
    s.add_argument("--config", help="site.yaml (to find the status port)")
    s.add_argument("--port", type=int, help="status port (default: from --config, else 8710)")
    s.add_argument("--json", action="store_true", help="print the raw JSON")
    s.set_defaults(func=status)
    d = esub.add_parser("discover", help="browse an OPC UA server and draft a site.yaml")
    d.add_argument("endpoint", help="opc.tcp://host:port/path")
    d.add_argument("--site", help="site id (default: the top folder's name)")
    d.add_argument("--out", help="write the draft here instead of printing it")
    d.set_defaults(func=discover)
    p.set_defaults(func=lambda _a: (p.print_help(), 2)[1])


def _load(path: str) -> SiteConfig:
    return load_yaml_model(SiteConfig, path)


def run(args: argparse.Namespace) -> int:
    """Run the agent in the foreground."""
    from egiz.edge.agent import EdgeAgent

    config = _load(args.config)
    level = logging.DEBUG if args.debug else getattr(logging, args.log_level.upper())
    if args.log_format == "json":
        from egiz.cli.logs import use_json_logs

        use_json_logs(level)
    logging.getLogger("egiz").setLevel(level)
    agent = EdgeAgent(config, base_dir=Path(args.config).resolve().parent)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        task = asyncio.create_task(agent.run(stop))
        ready = asyncio.create_task(agent.ready.wait())
        await asyncio.wait([task, ready], return_when=asyncio.FIRST_COMPLETED)
        if agent.ready.is_set():
            print(
                f"egiz edge {config.uplink.edge_id}: status http://{config.status.host}:"
                f"{agent.status_port}/status",
                flush=True,
            )
        await task

    asyncio.run(main())
    return 0


def check(args: argparse.Namespace) -> int:
    """Validate the config (no I/O beyond reading it) and explain it."""
    cfg = _load(args.config)
    models = None
    if cfg.models:  # pinned artifacts are verified here as the agent would (ConfigError if not)
        from egiz.edge.scoring import EdgeModels

        models = EdgeModels(cfg, Path(args.config).resolve().parent)
    n_signals = sum(len(cfg.asset_type_of(a.id).signals) for a in cfg.assets)
    print(
        f"{args.config}: valid site config for site {cfg.site.id!r} "
        f"({len(cfg.assets)} assets of {len(cfg.asset_types)} types, {n_signals} signals)"
    )
    for src in cfg.sources:
        if src.kind == "opcua":
            per = src.subscription.max_items_per_subscription
            subs = max(1, -(-len(src.nodes) // per))
            sessions = -(-subs // src.subscription.max_subscriptions_per_session)
            print(
                f"  source {src.name}: OPC UA {src.endpoint}, {src.mode}, {len(src.nodes)} nodes "
                f"in {subs} subscription(s) over {sessions} session(s), security "
                f"{src.security.policy}/{src.security.mode}"
            )
        else:
            print(
                f"  source {src.name}: MQTT {src.url}, QoS {src.qos}, "
                f"{'clean' if src.clean_start else 'persistent'} session, topics: "
                + ", ".join(s.topic for s in src.subscriptions)
            )
    w = cfg.window
    print(f"  windows: {w.length_s:g} s in data time, closed {w.lateness_s:g} s after their end")
    up = cfg.uplink
    print(
        f"  uplink: {up.url or 'none (offline)'} as edge {up.edge_id!r}"
        + (f", token from {up.token_file}" if up.token_file else "")
    )
    ob = cfg.outbox
    print(
        f"  outbox: {ob.path}, at most {ob.max_bytes / 2**20:.0f} MiB and "
        f"{ob.max_age_s / 86400:g} days"
    )
    print(f"  status: http://{cfg.status.host}:{cfg.status.port or '<any free port>'}/status")
    for line in models.describe() if models else []:
        print(f"  {line}")
    return 0


def discover(args: argparse.Namespace) -> int:
    """Browse a server and print (or write) a draft site.yaml."""
    import yaml

    from egiz.edge.discover import discover as browse

    if not args.endpoint.startswith("opc.tcp://"):
        raise EgizError(f"{args.endpoint!r} is not an OPC UA endpoint (fix: opc.tcp://host:4840)")
    doc = browse(args.endpoint, args.site)
    n = len(doc["sources"][0]["nodes"])
    text = (
        f"# Drafted by `egiz edge discover {args.endpoint}`: {n} numeric variables in "
        f"{len(doc['assets'])} assets.\n# Check asset ids, types and units (signals marked "
        "'unit not found' default to '1'),\n# set uplink.url and a token, then run "
        "`egiz edge check --config` on it.\n" + yaml.safe_dump(doc, sort_keys=False)
    )
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}: {n} signals in {len(doc['assets'])} assets")
    else:
        sys.stdout.write(text)
    return 0


def status(args: argparse.Namespace) -> int:
    """Read the local status endpoint of a running agent."""
    port = args.port
    host = "127.0.0.1"
    if port is None and args.config:
        cfg = _load(args.config)
        port, host = cfg.status.port, cfg.status.host
    port = port or 8710
    url = f"http://{host}:{port}/status"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            data = json.loads(resp.read())
    except (urllib.error.URLError, OSError) as err:
        raise EgizError(
            f"no edge agent answers at {url} ({err}) (fix: is `egiz edge run` "
            "running, and is --port its status port?)"
        ) from None
    if args.json:
        json.dump(data, sys.stdout, indent=1)
        print()
    else:
        from egiz.edge.status import render

        sys.stdout.write(render(data))
    return 0
