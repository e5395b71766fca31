#!/bin/bash
# bench.sh: start-up time of `nsup apply` against bubblewrap, unshare+chroot,
# runc and crun doing the same work, in ONE hyperfine run (ratios hold on a
# noisy machine only within a run), plus the peak RSS of each and of
# nsup's PID-1 init.
#
# The work: busybox /bin/true in a fresh mnt+pid+uts+ipc+net sandbox whose
# root is a busybox tree, with /proc, a tmpfs /tmp, a minimal /dev, a
# hostname, and (nsup, bwrap, runc, crun) a PID 1 that is not the command.
#
# Env: RUNS (100) WARMUP (10) RSS_RUNS (20) OUT (/tmp/nsup-bench/results)
# Needs root, hyperfine, bubblewrap, runc, crun, busybox-static, python3
# (.ci/run installs them). Everything it makes lives under /tmp/nsup-bench.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "bench.sh: run as root (namespaces, runc, crun)" >&2; exit 1; }
HERE=$(cd "$(dirname "$0")/.." && pwd)
NSUP=$HERE/bin/nsup
W=/tmp/nsup-bench
R=$W/rootfs
RUNS=${RUNS:-100}
WARMUP=${WARMUP:-10}
RSS_RUNS=${RSS_RUNS:-20}
OUT=${OUT:-$W/results}

if [ "${NSUP_BENCH_INNER:-}" != 1 ]; then
  for t in hyperfine bwrap runc crun busybox python3 pasta; do
    command -v "$t" >/dev/null || { echo "bench.sh: $t is missing (apt-get install hyperfine bubblewrap runc crun busybox-static passt)" >&2; exit 1; }
  done
  rm -rf "$W"; mkdir -p "$R"/{bin,proc,tmp,dev,sys,etc,root} "$OUT" "$W/runc-state" "$W/crun-state"
  cp "$(command -v busybox)" "$R/bin/busybox"
  for a in sh true cat hostname grep; do ln -s busybox "$R/bin/$a"; done
  chmod 1777 "$R/tmp"
  cat > "$W/bench.yaml" <<YAML
version: 1
environments:
  bench:
    rootfs: {dir: $R}
    namespaces: [mnt, pid, uts, ipc, net]
    hostname: x
    mounts:
      - {type: proc, target: /proc}
      - {type: tmpfs, target: /tmp}
      - {type: dev, target: /dev}
    processes:
      - {name: main, command: [/bin/true]}
YAML
  sed 's|/bin/true]|/bin/sh, -c, "grep VmHWM /proc/1/status"]|' "$W/bench.yaml" > "$W/rss.yaml"
  # The same without the syscall filter, and without the masked and
  # read-only paths of /proc: what each default costs at start-up.
  sed 's|^    processes:|    security: {seccomp: unconfined}\n    processes:|' "$W/bench.yaml" > "$W/nofilter.yaml"
  # Without a PID 1 of nsup's: the child stage becomes /bin/true.
  sed 's|^    processes:|    init: false\n    processes:|' "$W/bench.yaml" > "$W/noinit.yaml"
  # A static hello-world Go program, for nsup's own start (nsup version).
  printf 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello, world") }\n' > "$W/hello.go"
  # Each linked to a temporary file and copied, as make build does with
  # nsup (see the Makefile): the same state in the page cache for all.
  (cd "$W" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$W/hello.link" hello.go && cp hello.link hello)
  # The same with yaml.v3 and pflag linked: the floor they set.
  (cd "$HERE" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$W/hellodeps.link" ./scripts/hellodeps && cp "$W/hellodeps.link" "$W/hellodeps")
  # The interleaved timer (see below).
  (cd "$HERE" && CGO_ENABLED=0 go build -o "$W/interleave" ./scripts/interleave)
  sed 's|^    processes:|    security: {masked_paths: []}\n    processes:|' "$W/bench.yaml" > "$W/nomasks.yaml"
  # With limits (memory and CPU, over the default pids limit every
  # environment has): the cost of more groups and files.
  sed 's|^    processes:|    limits: {memory: 512M, cpu: 1}\n    processes:|' "$W/bench.yaml" > "$W/limits.yaml"
  # With a user-mode network (pasta): the cost of starting it and waiting
  # until it has set the namespace up. And one that receives, for the
  # throughput of a published port.
  sed 's|^    processes:|    net: {network: user}\n    processes:|' "$W/bench.yaml" > "$W/netuser.yaml"
  sed 's|^    processes:|    net: {network: user, ports: ["127.0.0.1:18099:9000"]}\n    processes:|; s|/bin/true]|/bin/sh, -c, "nc -l -p 9000 > /dev/null"]|' "$W/bench.yaml" > "$W/netsink.yaml"
  ln -sf busybox "$R/bin/nc"
  # OCI bundle from runc's defaults: the same five namespaces, proc, dev,
  # devpts, shm, mqueue, sysfs; args /bin/true, hostname x.
  mkdir -p "$W/bundle"; (cd "$W/bundle" && runc spec)
  python3 - "$W/bundle/config.json" "$R" <<'PY'
import json, sys
p, r = sys.argv[1], sys.argv[2]
c = json.load(open(p))
c['root'] = {'path': r, 'readonly': True}
c['process']['terminal'] = False
c['process']['args'] = ['/bin/true']
c['hostname'] = 'x'
json.dump(c, open(p, 'w'), indent=2)
PY
  # crun refuses "hybrid" cgroups when the cgroup2 root lists controllers
  # (../shared/bench/README.md): run everything in a private mount
  # namespace where unified/ is an empty tmpfs. The host is untouched.
  NSUP_BENCH_INNER=1 exec unshare --mount --propagation private -- "$0" "$@"
fi

if [ "$(stat -fc %T /sys/fs/cgroup)" = tmpfs ] && [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
  umount /sys/fs/cgroup/unified
  mount -t tmpfs -o size=64k,mode=755 nsup-bench-hide /sys/fs/cgroup/unified
fi
export NSUP_CACHE_DIR=$W/cache

# network: user last: the network namespaces pasta held are torn down by
# the kernel after the runs, which would slow the commands after it.
NAMES=(nsup "nsup, init: false" "nsup, no filter" "nsup, no masks" "nsup, limits" bwrap unshare+chroot crun runc "nsup, network: user")
CMDS=(
  "$NSUP apply $W/bench.yaml"
  "$NSUP apply $W/noinit.yaml"
  "$NSUP apply $W/nofilter.yaml"
  "$NSUP apply $W/nomasks.yaml"
  "$NSUP apply $W/limits.yaml"
  "bwrap --unshare-pid --unshare-uts --unshare-ipc --unshare-net --ro-bind $R / --proc /proc --tmpfs /tmp --dev /dev --hostname x /bin/true"
  "unshare --mount --pid --uts --ipc --net --fork --mount-proc=$R/proc chroot $R /bin/sh -c 'hostname x && exec /bin/true'"
  "crun --root $W/crun-state run --bundle $W/bundle nsup-bench-crun"
  "runc --root $W/runc-state run --bundle $W/bundle nsup-bench-runc"
  "$NSUP apply $W/netuser.yaml"
)
HF=()
for i in "${!NAMES[@]}"; do
  eval "${CMDS[$i]}" </dev/null >/dev/null 2>"$W/err" || { echo "bench.sh: ${NAMES[$i]} fails: $(cat "$W/err")" >&2; exit 1; }
  HF+=(-n "${NAMES[$i]}" "${CMDS[$i]}")
done
# The check above ran network: user too: the kernel tears the network
# namespaces it held down after a while, on a worker thread, which took
# up to 0.5 ms off the first command timed (nsup, then slower than "no
# filter", which does less). Let it settle first.
sleep 2
# And a first command that is not reported: in a run of nsup, "no
# filter", nsup, "no filter", the first nsup took 0.14 ms more than the
# second (whatever the machine does after the pause); every command
# timed now has one before it.
hyperfine -N --warmup "$WARMUP" -r "$RUNS" --style basic --export-json "$OUT/hyperfine.json" \
  -n "(settle, not reported)" "${CMDS[5]}" "${HF[@]}" >&2

: > "$OUT/rss.tsv"
for i in "${!NAMES[@]}"; do
  vals=()
  for _ in $(seq "$RSS_RUNS"); do
    vals+=("$(eval "/usr/bin/time -f %M ${CMDS[$i]}" </dev/null 2>&1 >/dev/null | tail -1)")
  done
  printf '%s\t%s\n' "${NAMES[$i]}" "$(printf '%s\n' "${vals[@]}" | sort -n | sed -n "$(( (RSS_RUNS + 1) / 2 ))p")" >> "$OUT/rss.tsv"
done
INIT_KB=$("$NSUP" apply "$W/rss.yaml" </dev/null | awk '{print $2}')
# The same ratios from runs interleaved (one run of each command per
# round, scripts/interleave): hyperfine times every run of a command
# before the next command's, and this VM's speed drifts between them by
# more than some of the differences measured (bwrap's median moved from
# 3.0 to 3.3 ms between two runs of this script). The commands are split
# on spaces (these have no quotes), no shell in between. Not crun:
# interleaved, each command starts while the kernel still tears down the
# namespaces of the one before, and crun then took 11 ms instead of 6
# (nsup and bwrap make the same namespaces and mounts, nearly, and pay
# alike).
"$W/interleave" -n "$((RUNS * 2))" -w "$WARMUP" \
  bwrap -- ${CMDS[5]} --- nsup -- ${CMDS[0]} --- "nsup, init: false" -- ${CMDS[1]} \
  > "$OUT/interleaved.tsv"
# nsup's own start against a static hello-world Go program, in one run.
hyperfine -N --warmup "$WARMUP" -r "$((RUNS * 3))" --style basic --export-json "$OUT/start.json" \
  -n "hello (static Go)" "$W/hello" -n "hello + yaml.v3 + pflag" "$W/hellodeps" -n "nsup version" "$NSUP version" >&2

# Throughput of a published port (host -> pasta -> the environment's
# nc), against the host's own loopback (python on both ends there), 1 GiB.
python3 - <<'PY' > "$OUT/loopback.txt"
import socket, threading, time
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
def sink():
    c, _ = srv.accept()
    while c.recv(1 << 20): pass
threading.Thread(target=sink, daemon=True).start()
s = socket.create_connection(srv.getsockname()); buf = b"\0" * (1 << 20); t = time.time()
for _ in range(1024): s.sendall(buf)
s.close(); print(f"{1024 / (time.time() - t):.0f}")
PY
NSUP_STATE_DIR=$W/state "$NSUP" apply -d "$W/netsink.yaml" >/dev/null
python3 - <<'PY' > "$OUT/pasta.txt"
import socket, time
for i in range(100):
    try:
        s = socket.create_connection(("127.0.0.1", 18099)); break
    except OSError: time.sleep(0.05)
buf = b"\0" * (1 << 20); t = time.time()
for _ in range(1024): s.sendall(buf)
s.shutdown(socket.SHUT_WR); s.recv(1); s.close(); print(f"{1024 / (time.time() - t):.0f}")
PY
NSUP_STATE_DIR=$W/state "$NSUP" down bench >/dev/null
# The same through podman's user-mode network, if podman is installed:
# pasta from podman 4.4 on, slirp4netns and its rootlessport before (4.3,
# Debian 12's, has no pasta). Its storage, run state and configuration
# live under $W (cgroupfs and runc, ulimits at the host's: see README).
echo "podman not installed" > "$OUT/podman.txt"
if command -v podman >/dev/null; then
  PM=$W/podman; mkdir -p "$PM"
  # podman keeps a blob cache in /var/lib/containers whatever its root:
  # removed after if this made it.
  [ -e /var/lib/containers ] && HAD_VLC=1 || HAD_VLC=0
  printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\nevents_logger = "file"\n' > "$PM/containers.conf"
  podman_() { CONTAINERS_CONF=$PM/containers.conf podman --root "$PM/root" --runroot "$PM/run" --storage-driver vfs "$@"; }
  PV=$(podman_ version --format '{{.Client.Version}}')
  MODE=slirp4netns
  if [ "$(printf '%s\n4.4.0\n' "$PV" | sort -V | head -1)" = 4.4.0 ]; then MODE=pasta; fi
  tar -C "$R" -c . | podman_ import - nsup-bench >/dev/null
  sink() { podman_ run -d --rm --network "$MODE" -p 127.0.0.1:18100:9000 nsup-bench /bin/sh -c 'nc -l -p 9000 > /dev/null' >/dev/null; }
  # podman 4.4 refuses pasta as root ("only supported for rootless").
  sink || { MODE=slirp4netns; sink; }
  python3 - "$PV" "$MODE" <<'PY' > "$OUT/podman.txt"
import socket, sys, time
for i in range(100):
    try:
        s = socket.create_connection(("127.0.0.1", 18100)); break
    except OSError: time.sleep(0.05)
buf = b"\0" * (1 << 20); t = time.time()
for _ in range(1024): s.sendall(buf)
s.shutdown(socket.SHUT_WR); s.recv(1); s.close()
print(f"podman {sys.argv[1]}, --network {sys.argv[2]}: {1024 / (time.time() - t):.0f} MiB/s")
PY
  podman_ rm -f -a >/dev/null 2>&1 || true
  podman_ system reset -f >/dev/null 2>&1 || true
  rm -rf "$PM"
  [ "$HAD_VLC" = 1 ] || rm -rf /var/lib/containers
fi

python3 - "$OUT/hyperfine.json" "$OUT/rss.tsv" "$INIT_KB" "$OUT/start.json" "$(cat "$OUT/pasta.txt")" "$(cat "$OUT/loopback.txt")" "$(cat "$OUT/podman.txt")" "$OUT/interleaved.tsv" <<'PY' | tee "$OUT/table.md"
import json, sys
res = json.load(open(sys.argv[1]))['results']
rss = dict(l.rstrip('\n').split('\t') for l in open(sys.argv[2]) if l.strip())
med = {r['command']: r['median'] * 1000 for r in res}
print('| tool | median ms | mean ± sd ms | vs bwrap | vs crun | peak RSS MiB |')
print('|---|---:|---:|---:|---:|---:|')
for r in res:
    n = r['command']
    if n.startswith('(settle'):
        continue
    print(f"| {n} | {med[n]:.2f} | {r['mean']*1000:.2f} ± {r['stddev']*1000:.2f} | {med[n]/med['bwrap']:.2f}x | {med[n]/med['crun']:.2f}x | {float(rss[n])/1024:.1f} |")
print()
print(f"nsup PID-1 init peak RSS (VmHWM of /proc/1 seen from the main process): {int(sys.argv[3])/1024:.1f} MiB")
st = {r['command']: r['median'] * 1000 for r in json.load(open(sys.argv[4]))['results']}
print(f"nsup version {st['nsup version']:.2f} ms, a static hello-world Go program {st['hello (static Go)']:.2f} ms: {st['nsup version']/st['hello (static Go)']:.2f}x")
print(f"the same hello-world with yaml.v3 and pflag linked {st['hello + yaml.v3 + pflag']:.2f} ms: {st['hello + yaml.v3 + pflag']/st['hello (static Go)']:.2f}x")
il = {l.split('\t')[0]: float(l.split('\t')[1]) for l in open(sys.argv[8]) if l.strip()}
print(f"interleaved with bwrap (one run of each per round): " + ", ".join(f"{n} {il[n]:.2f} ms, {il[n]/il['bwrap']:.2f}x" for n in il if n != 'bwrap') + f"; bwrap {il['bwrap']:.2f} ms")
print(f"network: user costs {med['nsup, network: user'] - med['nsup']:.2f} ms at start-up over loopback only")
print(f"a published port (host -> pasta -> nc inside), 1 GiB: {sys.argv[5]} MiB/s; the host's own loopback: {sys.argv[6]} MiB/s")
print(f"the same through podman's user-mode network: {sys.argv[7]}")
PY
