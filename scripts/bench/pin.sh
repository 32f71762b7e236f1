# Sourced by the benchmark scripts: pin CAPTURE locks the capture's pages in
# memory (pin-file.c) until unpin; without the right to lock memory it warns
# and reads the file once instead, and the runs are measured all the same.
# Expects $out (the scripts' output folder) and pin-file built there.
pinned=
pin() {
  "$out/pin-file" "$1" 2>"$out/pin-file.log" &
  pinned=$!
  until grep -q "locked in memory" "$out/pin-file.log" 2>/dev/null; do
    if ! kill -0 "$pinned" 2>/dev/null; then
      echo "warning: $(cat "$out/pin-file.log"): $1 not locked in memory, runs may read it from disk" >&2
      cat "$1" >/dev/null
      pinned=
      return
    fi
    sleep 0.2
  done
}
unpin() {
  [[ -n $pinned ]] || return 0
  kill "$pinned" 2>/dev/null || true
  wait "$pinned" 2>/dev/null || true
  pinned=
}
