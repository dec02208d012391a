"""``python -m worker.probes live|ready [--dir DIR] [--max-age SECONDS]``: exit 0 or 1.

The exec probe of Kubernetes and the image's HEALTHCHECK run this form: it imports the standard
library only, where ``paynet-gateway probe`` (the same check) loads the whole CLI first.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from worker.probes.files import DIRECTORY_VARIABLE, MAX_AGE, check, directory_from


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker.probes", description=__doc__)
    parser.add_argument("kind", choices=("live", "ready"))
    parser.add_argument("--dir", help=f"the worker's --probe-dir (default: ${DIRECTORY_VARIABLE})")
    parser.add_argument("--max-age", type=float, default=MAX_AGE, metavar="SECONDS")
    args = parser.parse_args(argv)
    directory = directory_from(args.dir)
    if directory is None:
        print(f"probe: no directory: pass --dir or set {DIRECTORY_VARIABLE}", file=sys.stderr)
        return 2
    verdict = check(args.kind, directory, args.max_age)
    print(f"probe {args.kind}: {verdict.reason}", file=sys.stdout if verdict.ok else sys.stderr)
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
