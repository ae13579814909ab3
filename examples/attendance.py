#!/usr/bin/env python3
"""Attendance and engagement table from face events (facejson mode=events or both).

    python3 examples/attendance.py events.jsonl

One row per person: visits (tracks), first and last time seen, total time in view, and
the share of that time spent in each emotion (each track's emotion shares weighted by
its time in view). Faces nobody in the gallery matched are summed up as "unknown".
Standard library only.
"""
import json
import sys
from collections import defaultdict


def main(path):
    people = defaultdict(lambda: {"visits": 0, "first": None, "last": None, "seconds": 0.0,
                                  "emotions": defaultdict(float)})
    with open(path) as f:
        for line in f:
            event = json.loads(line)
            if event.get("event") != "left":
                continue
            # No name with facejson identities=false: everyone counts as "unknown".
            p = people[event.get("name", "unknown")]
            seconds = event.get("duration") or 0.0
            p["visits"] += 1
            p["seconds"] += seconds
            first, last = event.get("first_seen"), event.get("last_seen")
            if first is not None and (p["first"] is None or first < p["first"]):
                p["first"] = first
            if last is not None and (p["last"] is None or last > p["last"]):
                p["last"] = last
            for label, share in event.get("emotions", {}).items():
                p["emotions"][label] += share * seconds
    if not people:
        print("no face left the picture: is the input facejson mode=events output of a tracked stream?")
        return 1
    labels = sorted({l for p in people.values() for l in p["emotions"]})
    head = f"{'person':<24} {'visits':>6} {'first s':>8} {'last s':>8} {'in view s':>9}"
    print(head + "".join(f" {l[:8]:>8}" for l in labels))
    for name, p in sorted(people.items(), key=lambda kv: (kv[0] == "unknown", -kv[1]["seconds"])):
        fmt = lambda v: "-" if v is None else f"{v:.1f}"
        row = f"{name[:24]:<24} {p['visits']:>6} {fmt(p['first']):>8} {fmt(p['last']):>8} {p['seconds']:>9.1f}"
        total = sum(p["emotions"].values()) or 1.0
        print(row + "".join(f" {100 * p['emotions'][l] / total:>7.0f}%" for l in labels))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
