"""`egiz schema`: print the JSON schema of a contract."""

from __future__ import annotations

import argparse
import json

from egiz.contracts.errors import EgizError
from egiz.contracts.reference import markdown_reference
from egiz.contracts.schemas import json_schema, model_of, schema_names


def register(sub: argparse._SubParsersAction) -> None:
    """Add `egiz schema` to the command tree."""
    p = sub.add_parser(
        "schema",
        help="print the JSON schema of a contract",
        description="Print the JSON schema of a contract (site config, records, uplink, ...).",
    )
    p.add_argument("name", nargs="?", help=f"one of: {', '.join(schema_names())}; omit to list")
    p.add_argument(
        "--markdown", action="store_true", help="print a Markdown field reference instead"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print one schema, or the list of names."""
    if not args.name:
        print("\n".join(schema_names()))
        return 0
    try:
        if args.markdown:
            print(markdown_reference(model_of(args.name)))
            return 0
        print(json.dumps(json_schema(args.name), indent=2))
    except KeyError:
        raise EgizError(
            f"no contract named {args.name!r} (fix: use one of {', '.join(schema_names())})"
        ) from None
    return 0
