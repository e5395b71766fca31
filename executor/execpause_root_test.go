package executor_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// mainProcSteps are the first and the last (its execve) of the proc
// steps of p's main process.
func mainProcSteps(t *testing.T, p *planner.Plan) (first, execve int) {
	t.Helper()
	first, execve = -1, -1
	in := false
	for i, st := range p.Environments[0].Steps {
		if s, ok := st.Op.(planner.Spawn); ok {
			in = s.Process == "main"
			continue
		}
		if !in || st.Stage != planner.Proc {
			continue
		}
		if first < 0 {
			first = i
		}
		if _, ok := st.Op.(planner.Execve); ok {
			execve = i
		}
	}
	if first < 0 || execve < 0 {
		t.Fatalf("no proc steps of main:\n%s", planText(p))
	}
	return first, execve
}

// pausedChild is the child of init (host pid initPid) that holds the
// FIFO fifo open: the command paused by the exec hook.
func pausedChild(initPid int, fifo string) (int, error) {
	fi, err := os.Stat(fifo)
	if err != nil {
		return 0, err
	}
	for _, c := range children(initPid) {
		ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", c))
		for _, e := range ents {
			if st, err := os.Stat(fmt.Sprintf("/proc/%d/fd/%s", c, e.Name())); err == nil && os.SameFile(st, fi) {
				return c, nil
			}
		}
	}
	return 0, fmt.Errorf("no child of init %d holds %s", initPid, fifo)
}

// nsPid is pid's pid in its own pid namespace (NSpid's last).
func nsPid(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "NSpid:"); ok {
			f := strings.Fields(v)
			n, _ := strconv.Atoi(f[len(f)-1])
			return n
		}
	}
	return 0
}

// TestRootExecPausedUnreachable: nsup exec's command, paused by the exec
// hook right after init's fork of it (before its first step) and just
// before its execve, holds init's fds (nsup's own among them: the
// environment's lock, control socket and log, host files), its folders
// and its memory. Root inside (another nsup exec, the default
// confinement) reaches none of them: the process is not dumpable until
// its execve, so its /proc/PID/fd/N can be neither resolved nor opened
// (the folder lists the numbers only), pidfd_getfd, ptrace, and its
// cwd, root, exe, environ, mem, auxv and maps are refused (the runc CVE-2016-9962 and CVE-2024-21626
// class). Resumed, the command runs.
func TestRootExecPausedUnreachable(t *testing.T) {
	requireRoot(t)
	for _, which := range []string{"first-step", "execve"} {
		t.Run(which, func(t *testing.T) {
			checkHost(t)
			state := testStateDir(t)
			dir := t.TempDir()
			root := busyboxRoot(t, dir)
			secProbe(t, root)
			p := compileDetached(t, dir, lifeSpec, state)
			first, execve := mainProcSteps(t, p)
			step := first
			if which == "execve" {
				step = execve
			}
			fifo := filepath.Join(root, "resume")
			if err := unix.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			track(t, fifo)
			if st, _, errOut, err := run(t, p, executor.PauseExec(executor.Options{}, "life", step, "/resume")); err != nil || st != 0 {
				t.Fatalf("apply -d: %d %v %s", st, err, errOut)
			}
			defer executor.Down(context.Background(), state, "life")
			env, err := lifecycle.Inspect(state, "life")
			if err != nil || env.State.Pid <= 0 {
				t.Fatalf("inspect: %+v %v", env, err)
			}
			type result struct {
				st  int
				err error
			}
			done := make(chan result, 1)
			go func() {
				null, _ := os.OpenFile(os.DevNull, os.O_RDWR, 0)
				defer null.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				st, err := lifecycle.Exec(ctx, state, "life", lifecycle.ExecOptions{Argv: []string{"/bin/true"}, Stdin: null, Stdout: null, Stderr: null})
				done <- result{st, err}
			}()
			// The FIFO opens for writing once the paused command has it
			// open for reading: it is in its pause then.
			opened := make(chan *os.File, 1)
			go func() {
				w, _ := os.OpenFile(fifo, os.O_WRONLY, 0)
				opened <- w
			}()
			var w *os.File
			select {
			case w = <-opened:
			case r := <-done:
				if f, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
					f.Close() // the opener's open returns
				}
				if w := <-opened; w != nil {
					w.Close()
				}
				t.Fatalf("the command ended without its pause: %d %v", r.st, r.err)
			}
			resumed := false
			defer func() {
				if !resumed {
					w.Close() // EOF: the pause ends
					<-done
				}
			}()
			pid, err := pausedChild(env.State.Pid, fifo)
			if err != nil {
				t.Fatal(err)
			}
			// What the paused command holds, seen from the host: init's
			// fds, nsup's among them.
			var held []string
			ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
			for _, e := range ents {
				if n, _ := strconv.Atoi(e.Name()); n > 2 {
					l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
					held = append(held, e.Name()+" -> "+l)
				}
			}
			if len(held) == 0 {
				t.Errorf("the paused command holds no fd of init's: nothing to reach")
			}
			t.Logf("paused before step %d, pid %d (%d inside), holds: %s", step, pid, nsPid(pid), strings.Join(held, ", "))
			code, out, err := execOut(t, state, "life", "", "", "/probe", fmt.Sprintf("peek:%d", nsPid(pid)))
			if err != nil || code != 0 {
				t.Fatalf("the probe: %d %v\n%s", code, err, out)
			}
			res := probeResults(out)
			var reached []string
			for k, v := range res {
				// The fd folder lists numbers, nothing else, to root inside
				// (its CAP_DAC_OVERRIDE passes the folder's mode; readdir
				// makes no ptrace check, as for PID 1's).
				if k == "peek_fddir" || strings.HasPrefix(k, "peek_fdlisted_") {
					continue
				}
				if strings.HasPrefix(k, "peek_") && (v == "OK" || strings.HasPrefix(v, "OK ")) {
					reached = append(reached, k+": "+v)
				}
			}
			slices.Sort(reached)
			if len(reached) > 0 {
				t.Errorf("root inside reached the paused command's:\n  %s\nprobe:\n%s", strings.Join(reached, "\n  "), out)
			}
			for k, want := range map[string]string{"peek_ptrace": "EPERM", "peek_cwd": "EACCES", "peek_root": "EACCES",
				"peek_exe": "EACCES", "peek_environ": "EACCES", "peek_mem": "EACCES", "peek_getfd_3": "EPERM", "peek_fd_3": "EACCES"} {
				if res[k] != want {
					t.Errorf("%s: %q, want %s\n%s", k, res[k], want, out)
				}
			}
			resumed = true
			w.Write([]byte{1})
			w.Close()
			if r := <-done; r.err != nil || r.st != 0 {
				t.Errorf("the command, resumed: %d %v", r.st, r.err)
			}
		})
	}
}
