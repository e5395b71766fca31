#!/bin/bash
# bench-rootfs.sh: what a rootfs source costs `nsup apply`, in ONE hyperfine
# run: the same tree (the closure of /bin/bash, plus /proc and /tmp) as a
# `dir`, as a warm `closure` and as a warm `tar` (cache entry and digest
# index in place), and cold (empty cache: every file hashed, then copied or
# unpacked). The environment runs `bash -c :` in new mnt, pid, uts, ipc
# and net namespaces with /proc and a tmpfs /tmp.
#
# Target (issue 5): apply with a warm closure within 10 % of apply with a
# dir. The Go benchmarks (go test ./executor -bench Rootfs|Closure|Tar)
# time the rootfs step alone: cold builds and the warm lookup.
#
# Env: RUNS (60) WARMUP (5) OUT (/tmp/nsup-bench-rootfs/results)
# Needs root, hyperfine, python3. Everything it makes lives under
# /tmp/nsup-bench-rootfs.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "bench-rootfs.sh: run as root" >&2; exit 1; }
HERE=$(cd "$(dirname "$0")/.." && pwd)
NSUP=$HERE/bin/nsup
W=/tmp/nsup-bench-rootfs
RUNS=${RUNS:-60}
WARMUP=${WARMUP:-5}
OUT=${OUT:-$W/results}
for t in hyperfine python3; do
  command -v "$t" >/dev/null || { echo "bench-rootfs.sh: $t is missing" >&2; exit 1; }
done
[ -x "$NSUP" ] || { echo "bench-rootfs.sh: build nsup first (make build)" >&2; exit 1; }

rm -rf "$W"; mkdir -p "$W" "$OUT"
export NSUP_CACHE_DIR=$W/cache
spec() { # NAME ROOTFS
  cat > "$W/$1.yaml" <<YAML
version: 1
environments:
  bench:
    rootfs: $2
    namespaces: [mnt, pid, uts, ipc, net]
    mounts:
      - {type: proc, target: /proc}
      - {type: tmpfs, target: /tmp}
    processes:
      - {name: main, command: [/bin/bash, -c, ":"]}
YAML
}
spec closure "{closure: [/bin/bash]}"
"$NSUP" apply "$W/closure.yaml"
entry=$(ls -d "$NSUP_CACHE_DIR"/closure/*/ | head -1)
cp -a "$entry" "$W/dirroot"
spec dir "{dir: $W/dirroot}"
tar -C "$W/dirroot" -czf "$W/root.tar.gz" .
spec tar "{tar: $W/root.tar.gz}"
"$NSUP" apply "$W/tar.yaml"
# The digest index records a file only once its ctime is 2 s old (a
# write in the same clock tick could hide behind the same fingerprint):
# the archive was just written.
sleep 2.1
"$NSUP" apply "$W/tar.yaml"
"$NSUP" apply "$W/closure.yaml"
# --prepare: once per command or never; the warm ones prepare nothing.
hyperfine -N --warmup "$WARMUP" -r "$RUNS" --style basic --export-json "$OUT/hyperfine.json" \
  -n "dir" --prepare true "$NSUP apply $W/dir.yaml" \
  -n "closure (warm)" --prepare true "$NSUP apply $W/closure.yaml" \
  -n "tar (warm)" --prepare true "$NSUP apply $W/tar.yaml" \
  -n "closure (cold)" --prepare "rm -rf $W/cold" "env NSUP_CACHE_DIR=$W/cold $NSUP apply $W/closure.yaml" \
  -n "tar (cold)" --prepare "rm -rf $W/cold" "env NSUP_CACHE_DIR=$W/cold $NSUP apply $W/tar.yaml" >&2

python3 - "$OUT/hyperfine.json" <<'PY' | tee "$OUT/table.md"
import json, sys
res = json.load(open(sys.argv[1]))['results']
med = {r['command']: r['median'] * 1000 for r in res}
print('| rootfs | median ms | mean ± sd ms | vs dir |')
print('|---|---:|---:|---:|')
for r in res:
    n = r['command']
    print(f"| {n} | {med[n]:.2f} | {r['mean']*1000:.2f} ± {r['stddev']*1000:.2f} | {med[n]/med['dir']:.2f}x |")
PY
