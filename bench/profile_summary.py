"""Summarise a py-spy raw profile (``bench/run.py … --profile FILE.txt``).

``.venv/bin/python bench/profile_summary.py FILE.txt [--top N] [--match TEXT ...]``

Prints, as shares of all samples: idle (no Python frame running: the event
loop waiting), the functions with the most *self* time, the most *inclusive*
time (a function counted once per sample it appears in), and for each
``--match`` the inclusive share of samples with a frame containing TEXT.
py-spy's stacks restart at greenlet switches (SQLAlchemy's asyncio layer), so
inclusive shares of frames above a greenlet are understated; self shares are
exact.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^:()]+)(?::\d+)?\)$")


def parse(path: str) -> list[tuple[list[str], int]]:
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            frames = [fr for fr in stack.split(";") if fr.strip()]
            out.append((frames, int(count)))
    return out


def label(frame: str) -> str:
    """``func (file)`` without the line number."""
    m = _FRAME.match(frame.strip())
    return f"{m['func']} ({m['file']})" if m else frame.strip()


def main() -> int:
    p = argparse.ArgumentParser(
        prog="bench/profile_summary.py", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("file")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--match", action="append", default=[], help="frame text to total (repeatable)")
    p.add_argument(
        "--drop",
        action="append",
        default=[],
        help="leave out samples with a frame containing TEXT (repeatable), e.g. idle worker "
        "threads: --drop WorkerThread.run",
    )
    args = p.parse_args()
    samples = [
        (frames, n)
        for frames, n in parse(args.file)
        if not any(text in f for text in args.drop for f in frames)
    ]
    total = sum(n for _, n in samples)
    if not total:
        raise SystemExit("no samples")
    idle = sum(n for frames, n in samples if not frames or "(" not in frames[-1])
    self_c: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    for frames, n in samples:
        if frames and "(" in frames[-1]:
            self_c[label(frames[-1])] += n
        for lab in {label(f) for f in frames}:
            incl[lab] += n
    print(f"{total} samples; idle (no Python frame) {idle / total:.1%}")
    print(f"\nself time, top {args.top}:")
    for lab, n in self_c.most_common(args.top):
        print(f"  {n / total:6.1%}  {lab}")
    print(f"\ninclusive time, top {args.top}:")
    for lab, n in incl.most_common(args.top):
        print(f"  {n / total:6.1%}  {lab}")
    if args.match:
        print("\nmatches (inclusive):")
        for text in args.match:
            n = sum(c for frames, c in samples if any(text in f for f in frames))
            print(f"  {n / total:6.1%}  {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
