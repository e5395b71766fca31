package lifecycle

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// TestLogsLockHeld: nsup logs waits for the log's lock a bounded time.
// Init holds it exclusive only for a moment; one that is stopped, or
// taken over by root inside (SYS_PTRACE), holds it as long as it likes,
// and nsup logs waited with it, for good (a review of the eleventh stop).
func TestLogsLockHeld(t *testing.T) {
	state := filepath.Join(t.TempDir(), "proj")
	if err := os.MkdirAll(filepath.Join(state, "env"), 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(state, "env", planner.LogFile)
	if err := os.WriteFile(path, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	holder, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if err := unix.Flock(int(holder.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer func(w time.Duration) { logLockWait = w }(logLockWait)
	logLockWait = 200 * time.Millisecond
	logs := func(ctx context.Context) (string, error) {
		var out strings.Builder
		done := make(chan error, 1)
		go func() { done <- Logs(ctx, state, "env", false, &out) }()
		select {
		case err := <-done:
			return out.String(), err
		case <-time.After(30 * time.Second):
			t.Fatal("nsup logs still waits for the log's lock after 30 s")
			return "", nil
		}
	}
	if out, err := logs(context.Background()); err == nil || !strings.Contains(err.Error(), "its log has been locked for 200ms") || out != "" {
		t.Errorf("locked: %q %v, want it refused once the wait is over", out, err)
	}
	// Given up (^C) while waiting: no error.
	ctx, cancel := context.WithCancel(context.Background())
	logLockWait = time.Hour
	time.AfterFunc(100*time.Millisecond, cancel)
	if out, err := logs(ctx); err != nil || out != "" {
		t.Errorf("cancelled: %q %v, want nothing", out, err)
	}
	unix.Flock(int(holder.Fd()), unix.LOCK_UN)
	if out, err := logs(context.Background()); err != nil || out != "hello\n" {
		t.Errorf("unlocked: %q %v", out, err)
	}
}
