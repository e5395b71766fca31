package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// hostNS is /proc/self/ns of the test process: apply never changes it.
func hostNS(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	ents, err := os.ReadDir("/proc/self/ns")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/ns/" + e.Name())
		fmt.Fprintf(&b, "%s %s\n", e.Name(), l)
	}
	return b.String()
}

// sameHostNS checks, when the test ends, that the test process is in the
// namespaces it started in.
func sameHostNS(t *testing.T) {
	before := hostNS(t)
	t.Cleanup(func() {
		if after := hostNS(t); after != before {
			t.Errorf("the test process's namespaces changed:\n%s\nnow\n%s", before, after)
		}
	})
}

var netRe = regexp.MustCompile(`(db|web): net (net:\[\d+\])`)

// TestRootPodLoopback: the two environments of examples/pod.yaml share
// one network namespace, and talk over its loopback: db listens, web
// connects and sends a line, db prints it.
func TestRootPodLoopback(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	sameHostNS(t)
	requireBusybox(t)
	bin := buildNsup(t)
	cmd := exec.Command(bin, "apply", "../../examples/pod.yaml")
	cmd.Env = append(os.Environ(), "NSUP_CACHE_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("apply pod.yaml: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "db got: hello from web\n") {
		t.Errorf("db did not get web's line over the loopback:\n%s", out)
	}
	nets := map[string]string{}
	for _, m := range netRe.FindAllStringSubmatch(string(out), -1) {
		nets[m[1]] = m[2]
	}
	host, _ := os.Readlink("/proc/self/ns/net")
	if nets["db"] == "" || nets["db"] != nets["web"] || nets["db"] == host {
		t.Errorf("network namespaces: db %q, web %q, host %q: want one new one, shared\n%s", nets["db"], nets["web"], host, out)
	}
}

// TestRootJoinBindMounted: namespace files bind-mounted elsewhere (as
// `ip netns add` makes them under /run/netns) are joined by path. They
// are made inside a private mount namespace of the test (unshare -m), so
// the host's mount table never sees them; nsup runs in there too.
func TestRootJoinBindMounted(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	sameHostNS(t)
	requireBusybox(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		skipOrFail(t, "needs unshare (util-linux)")
	}
	bin := buildNsup(t)
	dir := t.TempDir()
	spec := filepath.Join(dir, "join.yaml")
	os.WriteFile(spec, []byte(`version: 1
environments:
  joiner:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    join: {net: `+dir+`/netns, uts: `+dir+`/utsns}
    mounts:
      - {type: proc, target: /proc}
    processes:
      - name: main
        command: [/bin/busybox, sh, -c, 'echo inside $$(busybox stat -L -c %i /proc/self/ns/net) $$(busybox stat -L -c %i /proc/self/ns/uts) $$(busybox hostname)']
`), 0o644)
	script := `set -e
touch netns utsns
unshare --net=netns --uts=utsns hostname nsupns-bound
echo outside $(stat -L -c %i netns) $(stat -L -c %i utsns)
NSUP_CACHE_DIR=` + dir + `/cache "$0" apply join.yaml
`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, bin)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var outside, inside []string
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && f[0] == "outside" {
			outside = f[1:]
		}
		if len(f) > 0 && f[0] == "inside" {
			inside = f[1:]
		}
	}
	if len(outside) != 2 || len(inside) != 3 || inside[0] != outside[0] || inside[1] != outside[1] || inside[2] != "nsupns-bound" {
		t.Errorf("bound namespaces %q, inside the environment %q: want the same net and uts, hostname nsupns-bound\n%s", outside, inside, out)
	}
}
