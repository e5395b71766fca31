package executor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// TestRootControlIdleDropped: init served each connection to its control
// socket on a goroutine of its own that waited for the request, and for
// the terminal it asked for, with no bound: a host client of the same
// uid that connected and sent nothing (or no terminal) held a thread and
// fds of the environment's PID 1 for good, as many times as it liked.
// Init now drops such a connection after executor.ControlWait, and
// serves at most executor.ControlPending at once before their command
// starts: an nsup exec behind that many idle connections is served once
// one of them was dropped, and then runs. A command already running is
// not cut by the bound: an nsup exec -t whose user types only after the
// idle connections were dropped gets what was typed, and its status.
func TestRootControlIdleDropped(t *testing.T) {
	state := upLifeDev(t, false, "echo") // no devpts: init asks for the terminal
	st, err := lifecycle.Inspect(state, "life")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(st.Dir, planner.ControlFile)

	// A slow user at a terminal: the command runs before the idle
	// connections come, and reads what is typed after they are dropped.
	master, slave := callerPty(t)
	var out syncBuffer
	go io.Copy(&out, master)
	type result struct {
		st  int
		err error
	}
	slow := make(chan result, 1)
	go func() {
		st, err := lifecycle.Exec(context.Background(), state, "life", lifecycle.ExecOptions{TTY: true, Stdin: slave, Stdout: slave, Stderr: slave,
			Argv: []string{"/bin/sh", "-c", `echo ready; read x; echo "typed $x"; exit 3`}})
		slow <- result{st, err}
	}()
	waitFor(t, &out, "ready")

	// Idle connections fill every slot; the last asks for a command with
	// a terminal, is asked for it, and sends none.
	conns := make([]int, executor.ControlPending)
	for i := range conns {
		c, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(c)
		if err := unix.Connect(c, &unix.SockaddrUnix{Name: sock}); err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	mute := conns[len(conns)-1]
	req, _ := json.Marshal(lifecycle.ExecRequest{Argv: []string{"/bin/true"}, TTY: true, AskTerminal: true})
	if err := unix.Sendmsg(mute, req, nil, nil, 0); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	if m, ok := recvMessage(t, mute, buf); !ok || !m.SendTerminal {
		t.Fatalf("init's answer to a request with a terminal to ask for: %+v, want SendTerminal", m)
	}

	// An nsup exec meanwhile: accepted once a slot is free, that is once
	// an idle connection was closed (init closes before it frees).
	if code, got, err := execOut(t, state, "life", "", "", "/bin/echo", "meanwhile"); err != nil || code != 0 || got != "meanwhile\n" {
		t.Errorf("exec behind %d idle connections: %d %q %v", len(conns), code, got, err)
	}
	// What each connection was sent since, and whether it is at EOF.
	sent := make([][]string, len(conns))
	closed := 0
	for i, c := range conns {
		for {
			n, _, _, _, err := unix.Recvmsg(c, buf, nil, unix.MSG_DONTWAIT)
			if err == nil && n > 0 {
				sent[i] = append(sent[i], string(buf[:n]))
				continue
			}
			if err == nil {
				closed++
			}
			break
		}
	}
	if closed == 0 {
		t.Errorf("an exec was served while %d idle connections were all still open: init serves more than %d at once before their command starts", len(conns), executor.ControlPending)
	}
	// Each idle connection is dropped: EOF (the mute one is told why
	// first).
	type end struct {
		i    int
		msgs string
	}
	ended := make(chan end, len(conns))
	for i, c := range conns {
		go func() {
			b := make([]byte, 4096)
			msgs := sent[i]
			for {
				n, _, _, _, err := unix.Recvmsg(c, b, nil, 0)
				if err == unix.EINTR {
					continue
				}
				if err != nil || n == 0 {
					ended <- end{i, strings.Join(msgs, " ")}
					return
				}
				msgs = append(msgs, string(b[:n]))
			}
		}()
	}
	guard := time.After(60 * time.Second)
	for range conns {
		select {
		case e := <-ended:
			if e.i == len(conns)-1 && !strings.Contains(e.msgs, "nsup exec sent no terminal within") {
				t.Errorf("the connection that sent no terminal was sent %q, want told so", e.msgs)
			}
			if e.i < len(conns)-1 && e.msgs != "" {
				t.Errorf("an idle connection was sent %q, want nothing", e.msgs)
			}
		case <-guard:
			t.Fatalf("init still holds idle connections to its control socket after 60 s (its bound: %v)", executor.ControlWait)
		}
	}

	// The user types now, well after the bound: the command still runs.
	master.Write([]byte("slowly\n"))
	select {
	case r := <-slow:
		waitFor(t, &out, "typed slowly")
		if r.err != nil || r.st != 3 {
			t.Errorf("exec -t, typed into after %v: %d %v\n%s", executor.ControlWait, r.st, r.err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("exec -t did not end; output %q", out.String())
	}
	if code, got, err := execOut(t, state, "life", "", "", "/bin/echo", "after"); err != nil || code != 0 || got != "after\n" {
		t.Errorf("exec after the idle connections: %d %q %v", code, got, err)
	}
}

// recvMessage is the next message from init on c.
func recvMessage(t *testing.T, c int, buf []byte) (lifecycle.ExecMessage, bool) {
	t.Helper()
	var m lifecycle.ExecMessage
	for {
		n, _, _, _, err := unix.Recvmsg(c, buf, nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			t.Logf("recvmsg: %d %v", n, err)
			return m, false
		}
		return m, json.Unmarshal(buf[:n], &m) == nil
	}
}

// TestRootControlAcceptFDsOut: init's accept loop ended at the first
// error other than EINTR or ECONNABORTED, and with it nsup exec into the
// environment for good. Out of fds (EMFILE: init's soft RLIMIT_NOFILE
// lowered here to its lowest free fd number), no exec is served; once
// fds are free again (the limit put back), exec works.
func TestRootControlAcceptFDsOut(t *testing.T) {
	state := upLifeDev(t, true, "echo")
	st, err := lifecycle.Inspect(state, "life")
	if err != nil {
		t.Fatal(err)
	}
	pid := st.State.Pid
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	var old unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &old); err != nil {
		t.Fatal(err)
	}
	// The lowest fd number init has free: no new fd below that limit.
	held := map[string]bool{}
	for _, f := range fds {
		held[f.Name()] = true
	}
	free := 0
	for held[fmt.Sprint(free)] {
		free++
	}
	low := unix.Rlimit{Cur: uint64(free), Max: old.Max}

	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &low, nil); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &old, nil); err != nil {
				t.Error(err)
			}
		}
	}
	defer restore()
	// Execs while init has no fd to spare. Init's accept4 took its fd
	// before it waited, so the first is accepted, and fails for the fds
	// it sends (none received); init's next accept4 fails at once with
	// EMFILE, and no exec is served then: the second is not, within its
	// wait, by which time that accept4 has failed.
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err = lifecycle.Exec(ctx, state, "life", lifecycle.ExecOptions{Argv: []string{"/bin/echo", "starved"}, Stdin: null, Stdout: null, Stderr: null, AnswerWait: 2 * time.Second})
		cancel()
		if err == nil {
			t.Fatalf("exec %d served while init had no fd to spare", i)
		}
		t.Logf("exec %d while init had no fd to spare: %v", i, err)
	}
	restore()
	if code, got, err := execOut(t, state, "life", "", "", "/bin/echo", "again"); err != nil || code != 0 || got != "again\n" {
		t.Errorf("exec once init has fds again: status %d, output %q, error %v (init's accept loop ended at EMFILE)", code, got, err)
	}
}
