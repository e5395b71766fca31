package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
)

// asCLI, set to 1 in its environment, makes the test binary nsup's
// command line (TestMain).
const asCLI = "NSUP_TEST_AS_CLI"

// TestRootStraceRootless: apply run by a user without privilege, traced
// as the root traces are (straceApply), makes the plan that user gets and
// nothing else. strace stays root and runs nsup as the user (-u), so that
// the setuid helpers newuidmap and newgidmap keep their privilege (a
// tracer without it would have them run without, and fail). The plans:
// hello (a user namespace of its own, the user's ids mapped to 0 by
// nsup's own writes, setgroups denied); a map of subordinate ids (granted
// here in /etc/subuid and /etc/subgid, restored after), which
// newuidmap and newgidmap write: their execve and their write of the
// map are the step's; pod (web joins db's user namespace); pod detached
// (db's holder holds a user namespace, whose maps os/exec writes); a tar
// root and devbox under an overlay (userxattr, in the user's namespace);
// and compose (pasta, started by its keeper, rootless).
func TestRootStraceRootless(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		skipOrFail(t, "strace is not installed (apt-get install strace)")
	}
	u, dir, bin, cache := subIDCase(t)
	grantSubIDs(t, "/etc/subuid", u, u.name+":3000000:65536")
	grantSubIDs(t, "/etc/subgid", u, u.name+":3000000:65536")
	planBin := testBinaryFor(t, dir)
	env := detachedEnv(u, cache)
	sub := subIDSpec(t, dir, "mapped", u, subIDMap{3000000, 1000, 3000000, 1000}, `    mounts:
      - {type: proc, target: /proc}
      - {type: tmpfs, target: /tmp}
    processes:
      - {name: main, command: [/bin/busybox, cat, /proc/self/uid_map, /proc/self/gid_map]}
`)
	alpineTarball(t, dir)
	tar := filepath.Join(dir, "alpine.yaml")
	os.WriteFile(tar, []byte(strings.Replace(alpineSpec, "{tar: ./minirootfs.tar.gz}", "{tar: ./minirootfs.tar.gz, overlay: true}", 1)), 0o644)
	examples := filepath.Join(dir, "repo", "examples")
	for _, c := range []struct {
		name, f string
		detach  bool
		want    string // in the plan: what the case is for
	}{
		{"hello", filepath.Join(examples, "hello.yaml"), false, `write("/proc/$CHILD/uid_map", "0 ` + strconv.Itoa(u.uid) + ` 1\n")`},
		{"subids", sub, false, `newuidmap", $CHILD, `},
		{"pod", filepath.Join(examples, "pod.yaml"), false, `setns("/proc/$db/ns/user", CLONE_NEWUSER)`},
		{"pod-d", filepath.Join(examples, "pod.yaml"), true, `clone(CLONE_NEWUSER|CLONE_NEWNET|CLONE_NEWIPC), uid_map "0 ` + strconv.Itoa(u.uid) + ` 1", setgroups deny`},
		{"tar-overlay", tar, false, "userxattr"},
		{"devbox", filepath.Join(examples, "devbox.yaml"), false, "userxattr"},
		{"compose", filepath.Join(examples, "compose.yaml"), false, "__nsup_keep"},
	} {
		t.Run(c.name, func(t *testing.T) {
			straceRootless(t, strace, u, dir, bin, planBin, env, c.f, c.detach, c.want)
		})
	}
}

// testBinaryFor copies the test binary into dir, for the user to run as
// nsup's command line (asCLI).
func testBinaryFor(t *testing.T, dir string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	to := filepath.Join(dir, "nsup-plan")
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return to
}

// straceRootless traces nsup apply (-d if detach) of f run by u with env,
// in dir, and checks the trace (checkTrace) against the plan u gets from
// this binary's planner (planBin, as nsup plan --json), whose text must
// hold want.
func straceRootless(t *testing.T, strace string, u testUser, dir, bin, planBin string, env []string, f string, detach bool, want string) {
	checkHost(t)
	flags := []string{}
	if detach {
		flags = append(flags, "-d")
	}
	// The plan, with the user's ids and groups as strace -u gives them
	// (initgroups), no capability, and env.
	who := []string{"--reuid", strconv.Itoa(u.uid), "--regid", strconv.Itoa(u.gid), "--init-groups", "--inh-caps=-all", "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	plan := func(args ...string) string {
		cmd := exec.Command("setpriv", append(append(append(slices.Clone(who), env...), asCLI+"=1", planBin, "plan"), append(args, f)...)...)
		cmd.Dir = dir
		code, out, errs := runCaptured(t, cmd)
		if code != 0 {
			t.Fatalf("plan %v as %s: exit %d\n%s%s", args, u.name, code, out, errs)
		}
		return out
	}
	if text := plan(flags...); !strings.Contains(text, want) {
		t.Fatalf("the plan has no %s:\n%s", want, text)
	}
	p, err := planner.Unmarshal([]byte(plan(append(flags, "--json")...)))
	if err != nil {
		t.Fatal(err)
	}
	trace := filepath.Join(t.TempDir(), "trace")
	args := []string{"-u", u.name, "-f", "-qq", "-v", "-s", "4096", "--pidns-translation", "-e", "trace=" + tracedCalls, "-o", trace, bin, "apply"}
	cmd := exec.Command(strace, append(append(args, flags...), f)...)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("apply as %s under strace: %v\n%s", u.name, err, out)
	}
	if detach {
		down := u.command(env, bin, "down", f)
		down.Dir = dir
		if code, out, errs := runCaptured(t, down); code != 0 {
			t.Errorf("down: exit %d\n%s%s", code, out, errs)
		}
	}
	checkTrace(t, p, bin, trace)
	if t.Failed() {
		t.Logf("apply's output:\n%s", out)
	}
}
