package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Commits of nsup whose init serves exec -t the ways it used to.
const (
	// oneFdInit wants exactly one fd with a terminal (the pty nsup exec
	// opened), and refuses none with EINVAL ("0 fds received").
	oneFdInit = "773c3b5910e45a99fde2f52a577175b68e70fddb"
	// ownPtyInit opens the pty in the environment's devpts itself, reads
	// no askTerminal, and refuses none without one with ENOTTY.
	ownPtyInit = "9cc603daa0d46a8c7a54a0d28a406fb530d0bd8f"
)

// TestRootExecTTYOlderInit: nsup exec -t sends its request without a
// terminal now, and sends a host pty only when init asks for one
// (TestRootExecTTYHostPtyOnlyWithoutDev). An environment started by an
// older nsup has that nsup's init, which does not ask: it refuses the
// request (EINVAL: "0 fds received", or ENOTTY without a devpts), before
// anything starts. nsup exec then asks again the older way, with a host
// pty reopened read-only (rootless by its helper) sent along: into
// environments of both older inits, with and without a dev, as root and
// rootless, the command has its terminal.
func TestRootExecTTYOlderInit(t *testing.T) {
	requireBusybox(t)
	u, dir, bin, cache := rootlessCase(t)
	olds := map[string]string{"onefd": oldNsup(t, oneFdInit), "ownpty": oldNsup(t, ownPtyInit)}
	rootDir := t.TempDir()
	rootEnv := []string{"NSUP_STATE_DIR=" + filepath.Join(rootDir, "state"), "NSUP_CACHE_DIR=" + filepath.Join(rootDir, "cache")}
	userEnv := detachedEnv(u, cache)
	as := func(root bool, argv ...string) *exec.Cmd {
		if root {
			return exec.Command("env", append(append([]string{"-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, rootEnv...), argv...)...)
		}
		return u.command(userEnv, argv...)
	}
	for old, oldBin := range olds {
		spec := filepath.Join(dir, "repo", old+".yaml")
		writeTTYSpec(t, spec, old)
		for _, root := range []bool{true, false} {
			t.Cleanup(func() { runCaptured(t, as(root, oldBin, "down", "-p", old)) })
			if code, out, errs := runCaptured(t, as(root, oldBin, "apply", "-d", spec)); code != 0 {
				t.Fatalf("%s's apply -d (root %v): %d %s%s", old, root, code, out, errs)
			}
		}
	}
	for old := range olds {
		for _, root := range []bool{true, false} {
			for _, env := range []string{"dev", "nodev"} {
				t.Run(old+"/"+map[bool]string{true: "root", false: "rootless"}[root]+"/"+env, func(t *testing.T) {
					cmd := as(root, bin, "exec", "-t", old+"/"+env, "--", "/bin/busybox", "sh", "-c",
						`if [ -t 0 ]; then echo tty=yes; else echo tty=no; fi; read x; echo "read=$x"; exit 7`)
					p := startOnPty(t, cmd, nil, "tty=")
					if ok, err := p.untilMarker(); !ok {
						t.Fatalf("exec -t ended before the command had its terminal: %v\n%s", err, p.text())
					}
					err := p.finish("go\n")
					if got := p.text(); err == nil || !strings.Contains(err.Error(), "exit status 7") || !strings.Contains(got, "tty=yes\n") || !strings.Contains(got, "read=go\n") {
						t.Errorf("exec -t into an environment of an older nsup: %v, want status 7, a terminal and the line read:\n%s", err, got)
					}
				})
			}
		}
	}
}

var (
	oldMu   sync.Mutex
	oldBins = map[string]string{}
)

// oldNsup is nsup built from commit of this repository (git archive), in
// buildNsup's folder, once per test binary.
func oldNsup(t *testing.T, commit string) string {
	t.Helper()
	into := filepath.Dir(buildNsup(t))
	oldMu.Lock()
	defer oldMu.Unlock()
	if b, ok := oldBins[commit]; ok {
		return b
	}
	if _, err := exec.LookPath("git"); err != nil {
		skipOrFail(t, "needs git, to build an older nsup")
	}
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		skipOrFail(t, fmt.Sprintf("needs nsup's git repository, to build an older nsup: %v", err))
	}
	src, err := os.MkdirTemp("", "nsupns-old-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(src)
	archive := exec.Command("sh", "-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", strings.TrimSpace(string(top)), commit, src)
	if out, err := archive.CombinedOutput(); err != nil {
		skipOrFail(t, fmt.Sprintf("git archive %s: %v\n%s", commit, err, out))
	}
	bin := filepath.Join(into, "nsup-"+commit[:7])
	build := exec.Command("go", "build", "-o", bin, "./cmd/nsup")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build of %s: %v\n%s", commit, err, out)
	}
	oldBins[commit] = bin
	return bin
}
