#!/usr/bin/env bash
# Rebuild models/mtcnn-{pnet,rnet,onet}.onnx, models/fixtures/mtcnn-* and
# tests/data/mtcnn-reference.json from the pinned facenet-pytorch wheel.
#   models/convert/run-mtcnn.sh
#   VENV=/path/to/venv models/convert/run-mtcnn.sh   # use / create another virtualenv
# Needs python3 (3.11 tested), access to the package registry, and the test images in
# assets/ (scripts/fetch-assets.sh). Extra arguments go to convert_mtcnn.py.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${VENV:-$here/.venv-mtcnn}"
req="$here/requirements-mtcnn.txt"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
  # everything but facenet-pytorch, with dependencies ...
  tmp="$(mktemp)"
  trap 'rm -f "$tmp"' EXIT
  grep -v '^facenet-pytorch' "$req" > "$tmp"
  "${pip[@]}" install -r "$tmp"
  rm -f "$tmp"
  # ... then facenet-pytorch alone, --no-deps, so its own pins cannot change the versions above
  fnp="$(grep '^facenet-pytorch==' "$req")"
  "${pip[@]}" install --no-deps "$fnp"
fi
cd "$root"
exec "$venv/bin/python" "$here/convert_mtcnn.py" "$@"
