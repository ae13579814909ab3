#!/usr/bin/env bash
# Finds benchmark figures in Rust comments. Comments say why; the figures of a run (an
# accuracy, a timing, a frame rate, a memory growth, "in the run before") live in
# EVALUATION.md and BENCHMARKS.md with the commands that produce them, where they are
# redone when the code changes (issue 25). Numbers that are facts of the code stay:
# sizes, thresholds, published constants, a test stream's 25 fps.
#
#   scripts/check-comments.sh             the working tree
#   scripts/check-comments.sh --rev REV   the files as committed at REV (e.g. HEAD)
#
# Looks at comment lines (first non-blank characters //, /// or //!) and trailing
# `code // comment`s in src/, plugins/src/, rtsp/src/, broker/src/ and attendance/src/. Prints every offending line
# as FILE:LINE: COMMENT and exits 1 if there is one, else exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C

DIRS=(src plugins/src rtsp/src broker/src attendance/src)

rev=""
case "${1:-}" in
"") ;;
--rev)
    rev="${2:?--rev needs a revision}"
    ;;
-h | --help)
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
*)
    echo "usage: $0 [--rev REV]" >&2
    exit 2
    ;;
esac

# Benchmark-figure patterns (extended regular expressions, matched case-insensitively
# against the comment text only).
PATTERNS=(
    # A timing: "20 ms", "7.7 ms/face", "45 µs".
    '[0-9](\.[0-9]+)? ?(ms|µs|us|ns)(/| a | per |\b)'
    # A measured frame rate: a fractional one, or one that something ran, reached or
    # averaged (a stream's nominal "25 fps" is a setting, not a figure).
    '[0-9]\.[0-9]+ ?fps'
    '(ran|runs|run at|reach(es|ed)?|averag(e|es|ed|ing)|sustain(s|ed)?|manag(es|ed)|measured|got|gets|throughput)[^.;]*[0-9] ?fps'
    '[0-9] ?fps (on|with|against|vs|versus) '
    # Memory growth or use: "3 MB/h", "12 MB an hour", "RSS 180 MB".
    '[0-9] ?(k|m|g)i?b ?(/ ?h(our)?\b| an hour| per hour| a cycle| per cycle| a day)'
    '(rss|resident|peak|grew|grows|leak(ed|s)?)[^.;]*[0-9] ?(k|m|g)i?b\b'
    # A share of faces, frames or people, or a change by some percent.
    '[0-9](\.[0-9]+)? ?% (of (the )?)?(faces?|frames?|seat|strangers|people|tracks?|known|probes?|missed|fewer|more|faster|slower|better|worse|lower|higher|named|unknown|recall|accuracy|the time)\b'
    '[0-9] ?% ?(→|->|=>) ?[0-9]'
    # A before → after pair of scores, or two scores set against each other.
    '[0-9]\.[0-9]+ ?(→|->|=>) ?[0-9]\.[0-9]+'
    '0\.[0-9]{2,} (against|versus|vs\.?) 0\.[0-9]'
    # A score to four places is a measurement; to three, next to what it measures.
    '\b0\.[0-9]{4,}'
    '\b0\.[0-9]{3}\b[^.;]*(accuracy|identification|recall|precision|\bap\b|\bf1\b|\btar\b|unknown|named|strangers|rank)'
    '(accuracy|identification|recall|precision|\bap\b|\bf1\b|\btar\b|unknown|named|strangers|rank)[^.;]*\b0\.[0-9]{3}\b'
    # What one face scored where: "scores 0.87 at 640", "0.86 stretched".
    'scor(e|es|ed|ing) (of |about |only |just )?0\.[0-9]{2,} (at|on|with|in|when)\b'
    '0\.[0-9]{2,} (stretched|unstretched|as it is)'
    # What something averaged, measured or sat at in a run: "measure 12-15", "average
    # 0.37 to a look-alike", "sit at 0.45-0.8".
    '\b(averag(e|es|ed|ing)|measur(e|es|ed|ing)|sits? at|stay(s|ed)? (under|over|above|below)) (about |around |only |at )?[0-9]+(\.[0-9]+)?\b'
    # A score that went somewhere, a figure that was measured.
    '\bwent (up |down )?(from|to) [^.;]*[0-9]'
    'measured[^.;]*[0-9]'
    # A count per minute or hour from a run: "32 label changes a minute", "30 a minute".
    '[0-9] (label )?changes (a|per) (minute|min)\b'
    '[0-9] (a|per) (minute|hour)\b'
    # A speed-up: "1.5x slower", "3 times faster".
    '[0-9](\.[0-9]+)? ?(x|×|times) (slower|faster|quicker|as fast|as slow|the speed)'
    # Where and when a figure came from: a bench machine, a run, a commit, a date.
    'bench(mark)? machine|on (the|a|our) [0-9]+-core\b|[0-9]+-core (bench|machine|box|laptop)'
    '(in|on|than) the (run|commit|build) before|previous (benchmark |bench )?(run|commit|build)\b|last (benchmark|bench) run'
    '\bcommit [0-9a-f]{7,40}\b'
    '\b20[0-9]{2}-[01][0-9]-[0-3][0-9]\b'
)

# Comment text of a Rust file on stdin, as LABEL:LINE:<tab>COMMENT lines.
comments() {
    awk -v label="$1" '{
        c = ""
        if (match($0, /^[ \t]*\/\//)) c = $0
        else if (match($0, /[ \t]\/\/([ \t\/!]|$)/)) c = substr($0, RSTART + 1)
        if (c != "") printf "%s:%d:\t%s\n", label, FNR, c
    }'
}

files() {
    if [ -n "$rev" ]; then
        git ls-tree -r --name-only "$rev" -- "${DIRS[@]}" | grep '\.rs$' || true
    else
        local d
        for d in "${DIRS[@]}"; do
            if [ -d "$d" ]; then find "$d" -name '*.rs' -type f; fi
        done | sort
    fi
}

all_comments() {
    local f
    while IFS= read -r f; do
        if [ -n "$rev" ]; then
            git show "$rev:$f" | comments "$f"
        else
            comments "$f" <"$f"
        fi
    done < <(files)
}

grep_args=()
for p in "${PATTERNS[@]}"; do
    grep_args+=(-e "$p")
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
all_comments >"$tmp/all"
# The patterns see the comment text alone, never the FILE:LINE: in front of it.
cut -f1 "$tmp/all" >"$tmp/where"
cut -f2- "$tmp/all" >"$tmp/text"
{ grep -niE "${grep_args[@]}" "$tmp/text" || true; } >"$tmp/hits"

if [ -s "$tmp/hits" ]; then
    awk 'NR == FNR { where[NR] = $0; next }
        { n = $0; sub(/:.*/, "", n); t = $0; sub(/^[0-9]+:/, "", t); print where[n] " " t }' \
        "$tmp/where" "$tmp/hits"
    echo "check-comments: $(grep -c '' "$tmp/hits") comment line(s) quote benchmark figures;" \
        "give the reason and leave the figures to EVALUATION.md / BENCHMARKS.md" >&2
    exit 1
fi
exit 0
