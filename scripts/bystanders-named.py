#!/usr/bin/env python3
"""Bystanders given a name: an error ../shared/tools/score_classroom.py does not count.

The scorer reads only the largest face in a seat. Some LFW photos also hold a second
face, a bystander, who is nobody in the gallery. This counts the other faces in occupied
seats that carry the name of someone who is not in that seat (a smaller face named as
the seat's own person is the person, when a bystander's box happens to be the larger).

usage: bystanders-named.py truth.json output.jsonl
prints: bystanders_named=N face-frames in K tracks (of M other faces in occupied seats);
        the tracks only for output that carries track ids
"""
import json
import sys

from classroom_output import faces_in_seat, read_faces


def main():
    truth = json.load(open(sys.argv[1]))
    frames = read_faces(sys.argv[2])
    others = named = 0
    tracks = set()
    for f, seats in enumerate(truth["frames"]):
        for seat in seats:
            if seat["who"] is None:
                continue  # faces in an empty seat are the scorer's false faces
            for face in faces_in_seat(frames.get(f, []), seat["rect"])[1:]:
                others += 1
                name = (face.get("identity") or {}).get("name") or "unknown"
                if name not in ("unknown", seat["who"]):
                    named += 1
                    if "track_id" in face:
                        tracks.add(face["track_id"])
    where = f" in {len(tracks)} tracks" if tracks else ""
    print(f"bystanders_named={named} face-frames{where} "
          f"(of {others} other faces in occupied seats)")


if __name__ == "__main__":
    main()
