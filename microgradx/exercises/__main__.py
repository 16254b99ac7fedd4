"""``python -m microgradx.exercises DIR [--only 01,03] [--notebooks PATH]``: the solved notebooks, for teachers."""

from __future__ import annotations

import argparse
import sys

from .teacher import COURSE, solved_notebooks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m microgradx.exercises",
                                     description="Write the course notebooks with every exercise's reference "
                                                 "solution filled in and executed, into DIR (outside the repository).")
    parser.add_argument("dir", help="the folder to write into (created if missing)")
    parser.add_argument("--only", default="", help="comma-separated notebook numbers, e.g. 01,03 (default: all)")
    parser.add_argument("--notebooks", default=str(COURSE), help="the course's notebooks folder")
    args = parser.parse_args(argv)
    only = [k.strip() for k in args.only.split(",") if k.strip()]
    try:
        written = solved_notebooks(args.dir, args.notebooks, only)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
