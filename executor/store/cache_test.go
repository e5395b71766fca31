package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// waitLockWaiter returns once some process or thread waits for a lock on
// the file at p (a "->" line of /proc/locks for its inode).
func waitLockWaiter(t *testing.T, p string) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf(":%d ", st.Ino)
	for {
		b, err := os.ReadFile("/proc/locks")
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal(err)
			}
			t.Skip(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "->") && strings.Contains(l+" ", id) {
				return
			}
		}
		unix.Nanosleep(&unix.Timespec{Nsec: 1e6}, nil)
	}
}

// TestCacheSweepSparesLiveBuild: a prune running while an entry is built
// leaves the build alone, also when the builder got the build lock from a
// builder that failed (which removed HEX.build as it left).
func TestCacheSweepSparesLiveBuild(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "closure", strings.Repeat("ab", 32))
	ctx := context.Background()
	aBuilding, aFail := make(chan struct{}), make(chan struct{})
	aDone := make(chan error)
	go func() {
		aDone <- buildEntry(ctx, p, func(context.Context, string) (entryMeta, error) {
			close(aBuilding)
			<-aFail
			return entryMeta{}, errors.New("first build fails")
		})
	}()
	<-aBuilding
	bDone := make(chan error)
	go func() {
		bDone <- buildEntry(ctx, p, func(_ context.Context, tmp string) (entryMeta, error) {
			// A prune meanwhile.
			if _, err := PruneCache(dir, PruneOptions{}); err != nil {
				return entryMeta{}, err
			}
			return entryMeta{Kind: "closure"}, os.WriteFile(filepath.Join(tmp, "file"), []byte("x"), 0o644)
		})
	}()
	waitLockWaiter(t, p+".build")
	close(aFail)
	if err := <-aDone; err == nil {
		t.Fatal("first build: no error")
	}
	if err := <-bDone; err != nil {
		t.Fatalf("second build, pruned meanwhile: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(p, "file")); err != nil || string(b) != "x" {
		t.Errorf("built entry: %q, %v", b, err)
	}
}
