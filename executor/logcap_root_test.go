package executor_test

import (
	"bytes"
	"context"
	"fmt"
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

// TestRootDetachedLogBounded (the eighth stop; a known limit of the
// seventh): a detached environment's log had no size limit, and root
// inside, or any chatty service given the time, could fill the state
// directory's tmpfs. Init now writes the log alone, the process's fd 1 a
// pipe to it, and once it would pass the plan's bound (Stdio.Max, here
// 64 KiB instead of planner.LogMax's 10 MiB) cuts its oldest half: the
// log holds exactly the newest output, after a line that counts the
// bytes cut, and nsup logs -f, following all along, misses nothing.
func TestRootDetachedLogBounded(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	state := testStateDir(t)
	dir := t.TempDir()
	applets(t, busyboxRoot(t, dir), "seq")
	const bursts, lines, bound = 10, 4000, 64 << 10
	p := compileDetached(t, dir, fmt.Sprintf(`version: 1
environments:
  chatty:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: proc, target: /proc}
      - {type: tmpfs, target: /tmp}
    processes:
      - name: main
        command: [/bin/sh, -c, 'test -p /proc/self/fd/1 && echo piped; i=0; while [ $i -lt %d ]; do seq $((i*%d+1)) $((i*%d+%d)); i=$((i+1)); while [ ! -e /tmp/go$i ]; do sleep 0.02; done; done; echo end; exec sleep 1000']
`, bursts, lines, lines, lines), state)
	steps := p.Environments[0].Steps
	found := false
	for i, st := range steps {
		if op, ok := st.Op.(planner.Stdio); ok {
			if op.Max != planner.LogMax {
				t.Errorf("the plan's log bound: %d, want %d", op.Max, planner.LogMax)
			}
			op.Max = bound
			steps[i].Op, found = op, true
		}
	}
	if !found {
		t.Fatal("no Stdio step in the detached plan")
	}
	if st, _, errOut, err := run(t, p, executor.Options{}); err != nil || st != 0 {
		t.Fatalf("apply -d: %d %v %s", st, err, errOut)
	}
	s, _ := lifecycle.Inspect(state, "chatty")
	defer func() {
		if res, err := lifecycle.Down(context.Background(), state, "chatty"); err != nil {
			t.Errorf("down: %+v %v", res, err)
		}
		unix.Wait4(s.State.Pid, nil, unix.WNOHANG, nil)
	}()

	var want bytes.Buffer
	want.WriteString("piped\n")
	for i := 1; i <= bursts*lines; i++ {
		fmt.Fprintf(&want, "%d\n", i)
	}
	want.WriteString("end\n")

	// Following from the start, each burst read whole before the next is
	// written (each burst, 24 KiB at most, is less than the half kept, so a
	// cut falls in a burst and keeps all of it).
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	followed := make(chan error, 1)
	go func() { followed <- lifecycle.Logs(ctx, state, "chatty", true, &out) }()
	defer func() {
		cancel()
		<-followed
	}()
	waitFor := func(end string) {
		t.Helper()
		for i := 0; i < 3000; i++ {
			if strings.HasSuffix(out.String(), end) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("logs -f never showed %q; its last: %q", end, tail(out.String()))
	}
	for i := 1; i <= bursts; i++ {
		waitFor(fmt.Sprintf("\n%d\n", i*lines))
		if code, got, err := execOut(t, state, "chatty", "", "", "/bin/sh", "-c", fmt.Sprintf(": > /tmp/go%d", i)); code != 0 || err != nil {
			t.Fatalf("exec: %d %v %s", code, err, got)
		}
	}
	waitFor("\nend\n")

	log, err := os.ReadFile(filepath.Join(state, "chatty", planner.LogFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(log) > bound {
		t.Errorf("the log holds %d bytes, more than its bound, %d", len(log), bound)
	}
	first, rest, _ := bytes.Cut(log, []byte("\n"))
	var cut int
	if _, err := fmt.Sscanf(string(first), "nsup: %d bytes of older output cut here", &cut); err != nil {
		t.Fatalf("the log's first line %q: %v", first, err)
	}
	if cut <= 0 || cut > want.Len() || !bytes.Equal(rest, want.Bytes()[cut:]) {
		t.Errorf("the log after its cut line (%d bytes cut) is not the newest output: %d bytes, starting %q", cut, len(rest), rest[:min(len(rest), 40)])
	}
	if out.String() != want.String() {
		got, w := out.String(), want.String()
		i := 0
		for i < len(got) && i < len(w) && got[i] == w[i] {
			i++
		}
		t.Errorf("logs -f: %d bytes, want every line once, %d; from byte %d: %q, want %q", len(got), len(w), i, got[max(0, i-20):min(len(got), i+40)], w[max(0, i-20):min(len(w), i+40)])
	}
}

func tail(s string) string { return s[max(0, len(s)-60):] }
