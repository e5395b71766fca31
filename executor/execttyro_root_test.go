package executor_test

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// TestRootExecTTYReadOnly: nsup exec -t's command got a pty of nsup's,
// opened in the host's devpts. Handed in as it was opened, root inside
// ran chmod 666 /proc/self/fd/0 and the host's /dev/pts/N became every
// host user's: what the caller types in the command's terminal, and a
// way to type into it (found in the twenty-first stop after helper-95's
// review of the console, which it left open for exec -t). With a dev,
// init now opens the pty in the environment's own devpts and sends
// nsup exec its master: the command's terminal is no node of the host's
// (the chmod is of the environment's own node). Without one, root's nsup
// sends its pty opened again through a read-only clone of it alone
// (lifecycle.ReadOnlyPty): the chmod fails with EROFS, the terminal
// works. Rootless: TestRootRootlessExecTTY (cmd/nsup).
func TestRootExecTTYReadOnly(t *testing.T) {
	var hostPts unix.Stat_t
	if err := unix.Stat("/dev/pts", &hostPts); err != nil {
		t.Fatal(err)
	}
	for _, dev := range []bool{true, false} {
		t.Run(map[bool]string{true: "dev", false: "nodev"}[dev], func(t *testing.T) {
			state := upLifeDev(t, dev, "chmod", "stat", "tty")
			master, slave := callerPty(t)
			var out syncBuffer
			go io.Copy(&out, master)
			type result struct {
				st  int
				err error
			}
			done := make(chan result, 1)
			go func() {
				st, err := lifecycle.Exec(context.Background(), state, "life", lifecycle.ExecOptions{TTY: true, Stdin: slave, Stdout: slave, Stderr: slave,
					Argv: []string{"/bin/sh", "-c", `[ -t 0 ] && echo tty-yes; echo "dev=$(stat -L -c %d /proc/self/fd/0)"; chmod 666 /proc/self/fd/0; stat -L -c "mode=%a" /proc/self/fd/0; echo ended; exit 7`}})
				done <- result{st, err}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(30 * time.Second):
				t.Fatalf("exec -t did not end; output %q", out.String())
			}
			waitFor(t, &out, "ended")
			got := strings.ReplaceAll(out.String(), "\r", "")
			if r.err != nil || r.st != 7 || !strings.Contains(got, "tty-yes\n") {
				t.Fatalf("exec -t: %d %v\n%s", r.st, r.err, got)
			}
			onHost := strings.Contains(got, "dev="+strconv.FormatUint(hostPts.Dev, 10)+"\n")
			if dev && onHost {
				t.Errorf("with a dev, the command's terminal is a node of the host's devpts, want the environment's own:\n%s", got)
			}
			if dev {
				// The worker (1000:1000) gets its terminal as a login
				// does: its own, so that it can open it again by name.
				var out2 syncBuffer
				m2, s2 := callerPty(t)
				go io.Copy(&out2, m2)
				st, err := lifecycle.Exec(context.Background(), state, "life", lifecycle.ExecOptions{TTY: true, Stdin: s2, Stdout: s2, Stderr: s2, Process: "worker",
					Argv: []string{"/bin/sh", "-c", `echo "owner=$(stat -L -c %u:%g /proc/self/fd/0)"; t=$(tty) && (: <"$t") && echo "reopened $t"; echo ended`}})
				waitFor(t, &out2, "ended")
				if got := strings.ReplaceAll(out2.String(), "\r", ""); err != nil || st != 0 || !strings.Contains(got, "owner=1000:1000\n") || !strings.Contains(got, "reopened /dev/pts/") {
					t.Errorf("exec -t --process worker: %d %v, want its terminal owned by 1000:1000, opened again by name:\n%s", st, err, got)
				}
			}
			if !dev && !onHost {
				t.Errorf("without a dev, want root's pty of the host's, reopened read-only:\n%s", got)
			}
			if onHost && (!strings.Contains(got, "Read-only file system") || strings.Contains(got, "mode=666")) {
				t.Errorf("root inside changed the mode of its terminal, the host's /dev/pts node (want EROFS):\n%s", got)
			}
		})
	}
}

// TestRootExecTTYWritableRefused: init took, for an environment without
// a devpts, whatever fd nsup exec -t sent as the command's terminal; a
// host pty that is not reopened read-only (an nsup exec that made no
// clone) went in writable, root inside's to chmod 666 for every host
// user. Found by helper-106 making the rootless reopen (the refusal it
// replaced had been the only guard rootless). Init now takes only a
// terminal on a read-only mount: this one is refused with ENOTTY, and
// no command starts.
func TestRootExecTTYWritableRefused(t *testing.T) {
	state := upLifeDev(t, false, "echo")
	st, err := lifecycle.Inspect(state, "life")
	if err != nil {
		t.Fatal(err)
	}
	c, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(c)
	if err := unix.Connect(c, &unix.SockaddrUnix{Name: filepath.Join(st.Dir, planner.ControlFile)}); err != nil {
		t.Fatal(err)
	}
	master, _, slave, err := lifecycle.OpenPty()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer unix.Close(slave)
	req, _ := json.Marshal(lifecycle.ExecRequest{Argv: []string{"/bin/echo", "ran"}, TTY: true})
	if err := unix.Sendmsg(c, req, unix.UnixRights(slave), nil, 0); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, _, _, _, err := unix.Recvmsg(c, buf, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var m lifecycle.ExecMessage
	if err := json.Unmarshal(buf[:n], &m); err != nil {
		t.Fatalf("%v: %q", err, buf[:n])
	}
	if m.Error == "" || unix.Errno(m.Errno) != unix.ENOTTY || m.Pid != 0 {
		t.Errorf("exec -t with a writable host pty, no devpts inside: %+v, want it refused (ENOTTY)", m)
	}
}
