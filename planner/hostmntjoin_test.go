package planner

import (
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestHostMountNSInUserNS: a mount namespace of the host's user
// namespace joined by path from a user namespace that maps root
// elsewhere is refused, as a bind of the host's /proc is there
// (TestHostProcInUserNS): the host's own mount namespace (and a copy of
// it: a service's private one) has the host's /proc mounted. A review of
// the fixes of that bind's refusal ran {namespaces: [user, pid], join:
// {mnt: /proc/self/ns/mnt}} with root mapped to 100000, and root inside
// wrote 1000 to the oom_score_adj of a host process of uid 100000 and
// nice 19 to its autogroup through the host's /proc, with no note in the
// plan. Outside a user namespace it stays planned, with its note; a
// mount namespace of a user namespace's joined with that user namespace
// too stays planned.
func TestHostMountNSInUserNS(t *testing.T) {
	root := shRoot(t)
	spec := func(namespaces, join, idmap string) string {
		return `version: 1
environments:
  b:
    rootfs: {dir: ` + root + `}
    namespaces: [` + namespaces + `]
    join: {` + join + `}
` + idmap + `    processes: [{name: main, command: [/bin/sh]}]
`
	}
	const confining = "    idmap:\n      uid: [{inside: 0, outside: 100000, count: 65536}]\n      gid: [{inside: 0, outside: 100000, count: 65536}]\n"
	const want = "environments.b.join.mnt: /proc/self/ns/mnt belongs to the host's user namespace"
	if _, err := compileLimits(t, spec("user, pid", "mnt: /proc/self/ns/mnt", confining), rootCaller, "hybrid"); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("the host's mount namespace from a user namespace mapping root to 100000: %v, want %q", err, want)
	}
	// A copy of the host's mount namespace (as a service's private one
	// is): another namespace, the host's /proc in it all the same.
	copyNS := exec.Command("sleep", "100")
	copyNS.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	if err := copyNS.Start(); err != nil {
		skipOrFail(t, "no mount namespace to join: "+err.Error())
	}
	defer func() {
		copyNS.Process.Kill()
		copyNS.Wait()
	}()
	other := "/proc/" + strconv.Itoa(copyNS.Process.Pid) + "/ns/mnt"
	if _, err := compileLimits(t, spec("user, pid", "mnt: "+other, confining), rootCaller, "hybrid"); err == nil || !strings.Contains(err.Error(), "environments.b.join.mnt: "+other+" belongs to the host's user namespace") {
		t.Errorf("a copy of the host's mount namespace from a user namespace mapping root to 100000: %v", err)
	}
	// Outside a user namespace: planned, and said.
	p, err := compileLimits(t, spec("pid", "mnt: /proc/self/ns/mnt", ""), rootCaller, "hybrid")
	if err != nil {
		t.Fatalf("the host's mount namespace outside a user namespace: %v", err)
	}
	if notes := strings.Join(p.Environments[0].Notes, "\n"); !strings.Contains(notes, "is the host's own mount namespace") {
		t.Errorf("no note of the host's mount namespace: %s", notes)
	}
	// By name, of an environment that joins the host's by path: the
	// same namespace (a review of this check's first form, which looked
	// at paths only, ran y so).
	chain := `version: 1
environments:
  x:
    rootfs: {dir: ` + root + `}
    namespaces: [pid]
    join: {mnt: /proc/self/ns/mnt}
    processes: [{name: main, command: [/bin/sh]}]
  y:
    rootfs: {dir: ` + root + `}
    namespaces: [user, pid]
    join: {mnt: x}
` + confining + `    processes: [{name: main, command: [/bin/sh]}]
`
	if _, err := compileLimits(t, chain, rootCaller, "hybrid"); err == nil || !strings.Contains(err.Error(), "environments.y.join.mnt: x's mount namespace (x joins /proc/self/ns/mnt) belongs to the host's user namespace") {
		t.Errorf("y joins by name x's, the host's: %v", err)
	}
	// x with a mount namespace of its own: planned.
	if _, err := compileLimits(t, strings.Replace(chain, "namespaces: [pid]\n    join: {mnt: /proc/self/ns/mnt}", "namespaces: [mnt, pid]", 1), rootCaller, "hybrid"); err != nil {
		t.Errorf("y joins x's own mount namespace: %v", err)
	}
}
