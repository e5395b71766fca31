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

// A cache, or a kind's folder in it, that others may write to (or that is
// another user's) is refused before an entry there is used or built:
// whoever may write there could have planted the entry a plan names.
func TestCacheOthersMayWrite(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(cache string) error
	}{
		{"cache mode 0777", func(cache string) error { return os.Chmod(cache, 0o777) }},
		{"kind's folder mode 0777", func(cache string) error {
			return os.Mkdir(filepath.Join(cache, "tar"), 0o777|os.ModeSticky)
		}},
		{"cache of another user", func(cache string) error {
			if os.Geteuid() != 0 {
				return os.Chmod(cache, 0o777)
			}
			return os.Chown(cache, 65534, 65534)
		}},
		{"cache in a folder others may write to, not sticky", func(cache string) error {
			return os.Chmod(filepath.Dir(cache), 0o777)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := t.TempDir()
			if err := tc.set(cache); err != nil {
				t.Fatal(err)
			}
			os.Chmod(filepath.Join(cache, "tar"), 0o777) // umask
			p := filepath.Join(cache, "tar", strings.Repeat("ab", 32))
			os.MkdirAll(p, 0o755) // the planted entry
			built := false
			f, err := useEntry(context.Background(), p, func(context.Context, string) (entryMeta, error) {
				built = true
				return entryMeta{}, nil
			})
			if f != nil {
				f.Close()
			}
			if err == nil || !errors.Is(err, unix.EPERM) || built {
				t.Errorf("entry in a cache others may write: %v (built: %v)", err, built)
			}
			if _, err := ListCache(cache); !errors.Is(err, unix.EPERM) {
				t.Errorf("cache ls of a cache others may write: %v", err)
			}
			if _, err := PruneCache(cache, PruneOptions{}); !errors.Is(err, unix.EPERM) {
				t.Errorf("cache prune of a cache others may write: %v", err)
			}
		})
	}
	// A cache that is a symlink to one of the caller's own: used.
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "cache")
	os.Symlink(real, link)
	f, err := useEntry(context.Background(), filepath.Join(link, "tar", strings.Repeat("cd", 32)), func(context.Context, string) (entryMeta, error) {
		return entryMeta{Kind: "tar"}, nil
	})
	if err != nil {
		t.Fatalf("a cache that is a symlink to the caller's own: %v", err)
	}
	f.Close()
	// The caller's own, 0700 as nsup makes it: used.
	cache := t.TempDir()
	p := filepath.Join(cache, "tar", strings.Repeat("ab", 32))
	f, err = useEntry(context.Background(), p, func(_ context.Context, tmp string) (entryMeta, error) {
		return entryMeta{Kind: "tar"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}
