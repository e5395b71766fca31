package lifecycle

// Logs: a detached environment's log, copied or followed (nsup logs).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/nsup/nsup/planner"
)

// Logs copies a detached environment's log to w; with follow, it goes on
// copying what is written until the environment has ended (or ctx is
// done).
func Logs(ctx context.Context, dir, name string, follow bool, w io.Writer) error {
	if err := CheckProjectDir(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	d := filepath.Join(dir, name)
	f, err := os.Open(filepath.Join(d, planner.LogFile))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		// Whether it still runs is read before the copy, so that what it
		// wrote last is copied before following stops.
		running := follow && lockHeld(filepath.Join(d, planner.LockFile))
		if _, err := io.Copy(w, f); err != nil {
			return err
		}
		if !running {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}
