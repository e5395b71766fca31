package lifecycle

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nsup/nsup/planner"
)

// TestDownWhileInitExits: between the end of init's namespaces and the
// release of its lock (its files are closed after, fput runs last), nsup
// down used to find the lock held and the recorded init in namespace 0,
// and refused it as "another process" (TestRootKillDuringApply, 1 run in
// 4). A zombie is such a process seen from outside: its start time is
// there, its namespaces are not. verify says it is exiting, and stop
// waits for it instead of failing.
func TestDownWhileInitExits(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "exit 0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	defer cmd.Wait()
	for i := 0; ; i++ { // until it is a zombie, unreaped
		f, _, err := procStat(pid)
		if err == nil && len(f) > 0 && f[0] == "Z" {
			break
		}
		if i == 500 {
			t.Fatalf("pid %d never became a zombie", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	start, err := procStartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	uts, err := os.Readlink("/proc/self/ns/uts")
	if err != nil {
		t.Fatal(err)
	}
	st := &State{Name: "dying", Pid: pid, StartTime: start, Namespaces: map[string]uint64{"uts": nsInode(os.Getpid(), "uts")}}
	if err := st.verify(); !errors.Is(err, errExiting) {
		t.Fatalf("verify of an exiting init (%s): %v, want errExiting", uts, err)
	}
	// A start time that is not the recorded one is another process.
	st.StartTime++
	if err := st.verify(); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("verify with another start time: %v", err)
	}
	st.StartTime--
	var res DownResult
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := stop(ctx, st, &res); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if res.Stopped || res.Killed {
		t.Errorf("an exiting init was signalled: %+v", res)
	}
}

// A project's folder is only as safe as the state directory above it:
// ps, down and logs refuse one whose state directory another may write
// (rename the project away, put a folder of theirs in its place), or that
// is a link others may replace. A link only the caller and root may
// replace leads to the state directory as its path does.
func TestProjectDirAbove(t *testing.T) {
	top := filepath.Join(t.TempDir(), "state")
	proj := filepath.Join(top, "proj")
	if err := os.MkdirAll(proj, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chmod(top, 0o700)
	if _, err := List(proj); err != nil {
		t.Fatalf("a state directory of this user's: %v", err)
	}
	os.Chmod(top, 0o777)
	if _, err := List(proj); err == nil || !strings.Contains(err.Error(), "that only it can write to") {
		t.Errorf("List under a world-writable state directory: %v", err)
	}
	if _, err := Down(context.Background(), proj, "web"); err == nil {
		t.Error("Down under a world-writable state directory: no error")
	}
	os.Chmod(top, 0o700)
	links := t.TempDir()
	link := filepath.Join(links, "link")
	os.Symlink(top, link)
	if _, err := List(filepath.Join(link, "proj")); err != nil {
		t.Errorf("List under a link to the state directory, in a folder of this user's: %v", err)
	}
	os.Chmod(links, 0o777)
	if _, err := List(filepath.Join(link, "proj")); err == nil || !strings.Contains(err.Error(), "which others may change") {
		t.Errorf("List under a link to the state directory in a folder anyone may write to: %v", err)
	}
	os.Chmod(links, 0o700)
}

// TestExitRecordedBounded: the exit status in an environment's lock file
// is read a few bytes at a time, whatever the file's size: init holds the
// file open, and root inside that reaches init's fds (SYS_PTRACE added)
// wrote 1 MiB into it, which ps and down read whole.
func TestExitRecordedBounded(t *testing.T) {
	d := t.TempDir()
	p := filepath.Join(d, planner.LockFile)
	if err := os.WriteFile(p, []byte("3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := exitRecorded(d); got != 3 {
		t.Errorf("exitRecorded = %d, want 3", got)
	}
	// 256 MiB, sparse: nothing on disk, every byte read if read whole.
	if err := os.Truncate(p, 256<<20); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if got := exitRecorded(d); got != -1 {
		t.Errorf("exitRecorded of a 256 MiB file = %d, want -1", got)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("exitRecorded allocated %d bytes for a 256 MiB lock file", n)
	}
}
