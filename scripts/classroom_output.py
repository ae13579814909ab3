"""Our JSON-lines output read against a classroom video's seats, as
../shared/tools/score_classroom.py reads it: shared by the scripts that look further
than the scorer (classroom-limits.py), so that they count a face in a seat by the
scorer's own rule."""
import json


def read_faces(path):
    """Frame number -> that frame's faces, from a facejson output file (frames are
    numbered by line when a record has no "frame", as the scorer does)."""
    frames = {}
    with open(path) as fh:
        for i, line in enumerate(fh):
            if line.strip():
                rec = json.loads(line)
                frames[rec.get("frame", i)] = rec.get("faces", [])
    return frames


def faces_in_seat(faces, seat):
    """The faces whose box centre lies in the seat's rect [x, y, w, h], the seat's
    person first: the face nearest the centre of the seat's photo (truth files that
    record it), else the largest, as the scorer reads it."""
    x, y, w, h = seat["rect"]
    inside = [f for f in faces
              if x <= f["box"][0] + f["box"][2] / 2 < x + w and y <= f["box"][1] + f["box"][3] / 2 < y + h]
    if "face" in seat:
        px, py = seat["face"]
        return sorted(inside, key=lambda f: (f["box"][0] + f["box"][2] / 2 - px) ** 2
                      + (f["box"][1] + f["box"][3] / 2 - py) ** 2)
    return sorted(inside, key=lambda f: f["box"][2] * f["box"][3], reverse=True)
