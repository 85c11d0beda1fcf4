"""`egiz cloud`: run the cloud service, provision edges, manage users."""

from __future__ import annotations

import argparse
import logging
import os

from egiz.contracts.errors import EgizError

DEFAULT_DB = "sqlite:///var/cloud.db"


def register(sub: argparse._SubParsersAction) -> None:
    """Add `egiz cloud run|edge ...|user ...` to the command tree."""
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument(
        "--db",
        default=os.environ.get("EGIZ_CLOUD_DB", DEFAULT_DB),
        help=f"database URL: sqlite:///path or postgresql://user@host/db "
        f"(default: $EGIZ_CLOUD_DB or {DEFAULT_DB})",
    )
    p = sub.add_parser(
        "cloud",
        help="run the cloud service, provision edges",
        description="The cloud service: ingest, twin registry, fleet API and dashboard.",
    )
    cmds = p.add_subparsers(dest="cloud_command", metavar="COMMAND")
    p.set_defaults(func=lambda _a: p.print_help() or 2)

    run = cmds.add_parser("run", parents=[db], help="serve the API and the dashboard")
    run.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    run.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    run.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    run.add_argument(
        "--log-format", default="text", choices=["text", "json"], help="json: one object per line"
    )
    run.add_argument(
        "--config",
        help="YAML file of CloudSettings (webhooks, influx_*, metrics_token, retention_s, ...); "
        "--db overrides its db_url when given explicitly",
    )
    run.add_argument("--tls-cert", help="serve HTTPS with this certificate (egiz certs create)")
    run.add_argument("--tls-key", help="private key of --tls-cert")
    run.set_defaults(func=_run)

    edge = cmds.add_parser("edge", help="provision edge devices (bearer tokens)")
    ecmds = edge.add_subparsers(dest="edge_command", metavar="COMMAND")
    edge.set_defaults(func=lambda _a: edge.print_help() or 2)
    add = ecmds.add_parser("add", parents=[db], help="add an edge; prints its token once")
    add.add_argument("edge_id")
    add.add_argument("--site", help="bind the edge to this site id (else its first manifest does)")
    add.set_defaults(func=_edge_add)
    lst = ecmds.add_parser("list", parents=[db], help="list edges")
    lst.set_defaults(func=_edge_list)
    rot = ecmds.add_parser("rotate", parents=[db], help="issue a new token; the old one stops")
    rot.add_argument("edge_id")
    rot.set_defaults(func=_edge_rotate)
    rev = ecmds.add_parser("revoke", parents=[db], help="refuse this edge from now on")
    rev.add_argument("edge_id")
    rev.set_defaults(func=_edge_revoke)
    _register_users(cmds, db)


def _register_users(cmds: argparse._SubParsersAction, db: argparse.ArgumentParser) -> None:
    user = cmds.add_parser("user", help="manage users and their roles per site")
    ucmds = user.add_subparsers(dest="user_command", metavar="COMMAND")
    user.set_defaults(func=lambda _a: user.print_help() or 2)
    add = ucmds.add_parser(
        "add", parents=[db], help="add a user; prints a generated password unless given"
    )
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=["viewer", "engineer", "operator", "admin"])
    add.add_argument("--site", default="*", help="site id the role applies to (default: * = all)")
    add.add_argument("--password", help="password (default: generate and print one)")
    add.set_defaults(func=_user_add)
    lst = ucmds.add_parser("list", parents=[db], help="list users and roles")
    lst.set_defaults(func=_user_list)
    rm = ucmds.add_parser("remove", parents=[db], help="remove a user and its tokens")
    rm.add_argument("username")
    rm.set_defaults(func=_user_remove)


def _user_add(args: argparse.Namespace) -> int:
    import secrets

    from egiz.cloud.services.auth import add_user

    password = args.password or secrets.token_urlsafe(12)
    _with_store(args, lambda s: add_user(s, args.username, password, {args.site: args.role}))
    print(f"user {args.username} added: {args.role} on {args.site}")
    if not args.password:
        print(f"password: {password}")
    return 0


def _user_list(args: argparse.Namespace) -> int:
    from egiz.cloud.services.auth import list_users

    print(f"{'USER':<24} ROLES")
    for name, grants in _with_store(args, list_users):
        roles = ", ".join(f"{role}@{site}" for site, role in sorted(grants.items()))
        print(f"{name:<24} {roles}")
    return 0


def _user_remove(args: argparse.Namespace) -> int:
    from egiz.cloud.services.auth import remove_user

    _with_store(args, lambda s: remove_user(s, args.username))
    print(f"user {args.username} removed")
    return 0


def _run(args: argparse.Namespace) -> int:
    import gc

    import uvicorn

    from egiz.cloud.app import create_app
    from egiz.cloud.config import CloudSettings

    if bool(args.tls_cert) != bool(args.tls_key):
        raise EgizError("--tls-cert and --tls-key go together")
    if args.config:
        from egiz.contracts import load_yaml_model

        settings = load_yaml_model(CloudSettings, args.config)
        if args.db != DEFAULT_DB:
            settings = settings.model_copy(update={"db_url": args.db})
    else:
        settings = CloudSettings(db_url=args.db)
    app = create_app(settings)
    scheme = "https" if args.tls_cert else "http"
    print(f"egiz cloud: dashboard {scheme}://{args.host}:{args.port}/  db {settings.db_url}",
          flush=True)  # fmt: skip
    extra = {}
    if args.log_format == "json":
        from egiz.cli.logs import use_json_logs

        use_json_logs(getattr(logging, args.log_level.upper()))
        extra["log_config"] = None  # uvicorn keeps our JSON handler instead of its own
    # The app, its modules and schemas (~115,000 objects) live until exit: frozen, they are
    # not re-scanned by every full garbage collection under load (measured +3-5 % ingest).
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                ssl_certfile=args.tls_cert, ssl_keyfile=args.tls_key, **extra)  # fmt: skip
    return 0


def _with_store(args: argparse.Namespace, fn):  # type: ignore[no-untyped-def]
    from egiz.cloud.store import open_store

    store = open_store(args.db)
    try:
        return fn(store)
    finally:
        store.close()


def _edge_add(args: argparse.Namespace) -> int:
    from egiz.cloud.services.edges import add_edge
    from egiz.cloud.services.ledger import issue_edge_key

    token, key = _with_store(args, lambda s: (add_edge(s, args.edge_id, site=args.site),
                                              issue_edge_key(s, args.edge_id)))  # fmt: skip
    # The ledger key first: scripts take the token from the last line.
    print(f"edge {args.edge_id}: ledger signing key (shown once, site.yaml uplink.ledger_key):")
    print(key)
    print(f"edge {args.edge_id} added; its token (shown once, put it in site.yaml uplink.token):")
    print(token)
    return 0


def _edge_list(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from egiz.cloud.services.edges import list_edges

    def when(t: float | None) -> str:
        return "-" if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    edges = _with_store(args, list_edges)
    print(f"{'EDGE':<24} {'SITE':<16} {'STATUS':<8} {'CREATED':<20} LAST SEEN")
    for e in edges:
        status = "revoked" if e.revoked_at else "active"
        print(
            f"{e.edge_id:<24} {e.site or '-':<16} {status:<8} {when(e.created_at):<20} "
            f"{when(e.last_seen)}"
        )
    return 0


def _edge_rotate(args: argparse.Namespace) -> int:
    from egiz.cloud.services.edges import rotate_edge
    from egiz.cloud.services.ledger import issue_edge_key

    token, key = _with_store(args, lambda s: (rotate_edge(s, args.edge_id),
                                              issue_edge_key(s, args.edge_id)))  # fmt: skip
    print(f"edge {args.edge_id}: new ledger signing key (heads signed before stay valid):")
    print(key)
    print(f"edge {args.edge_id}: new token (the old one no longer works):")
    print(token)
    return 0


def _edge_revoke(args: argparse.Namespace) -> int:
    from egiz.cloud.services.edges import revoke_edge
    from egiz.cloud.services.ledger import revoke_edge_keys

    _with_store(args, lambda s: (revoke_edge(s, args.edge_id), revoke_edge_keys(s, args.edge_id)))
    print(f"edge {args.edge_id} revoked")
    return 0
