# Sourced by the face-rtsp measurement scripts (soak.sh, cameras.sh, rtsp-latency.sh).

# choose_backend: sets $backend from BACKEND (tract|onnxruntime), defaulting to ONNX
# Runtime when scripts/fetch-onnxruntime.sh provides it, and exports ORT_DYLIB_PATH for it.
choose_backend() {
    backend=${BACKEND:-}
    if [ -z "$backend" ]; then
        if ORT_DYLIB_PATH=$(scripts/fetch-onnxruntime.sh 2>/dev/null); then
            export ORT_DYLIB_PATH; backend=onnxruntime
        else
            backend=tract
        fi
    elif [ "$backend" = onnxruntime ]; then
        ORT_DYLIB_PATH=$(scripts/fetch-onnxruntime.sh); export ORT_DYLIB_PATH
    fi
}

# serving_url OUT [PID]: waits (2 min at most) for the `serving rtsp://…` line(s) a server
# writes to the file OUT and prints the URL(s); fails if PID exits first.
serving_url() {
    local out=$1 pid=${2:-}
    for _ in $(seq 240); do
        if grep -q '^serving ' "$out"; then sed -n 's/^serving //p' "$out"; return; fi
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        sleep 0.5
    done
    return 1
}
