package store

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMain serves, with NSUP_TEST_CACHE_RACE set, as the other user of
// TestRootCacheMadeMeanwhile (cacheRaceOther).
func TestMain(m *testing.M) {
	if base := os.Getenv("NSUP_TEST_CACHE_RACE"); base != "" {
		cacheRaceOther(base)
	}
	os.Exit(m.Run())
}

// cacheRaceOther is the other user, run as uid 65534: it makes the
// cache, a kind's folder and an entry in them, 0777, again and again,
// until it is killed.
func cacheRaceOther(base string) {
	syscall.Umask(0)
	cache := filepath.Join(base, "cache")
	p := filepath.Join(cache, "tar", strings.Repeat("ab", 32))
	for {
		if unix.Mkdir(cache, 0o777) == nil {
			unix.Mkdir(filepath.Join(cache, "tar"), 0o777)
			unix.Mkdir(p, 0o777)
			os.WriteFile(filepath.Join(p, "PLANTED"), nil, 0o666)
		}
	}
}

// TestRootCacheMadeMeanwhile: a cache that another user makes between
// useEntry's first check (when it is not there yet) and its MkdirAll,
// under a folder all may write to with the sticky bit (as /tmp), is
// refused, not used with the entry planted in it (found by a review:
// 259 of 300 tries used it).
func TestRootCacheMadeMeanwhile(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root")
		}
		t.Skip("needs root")
	}
	base, err := os.MkdirTemp("", "nsup-cacherace-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	os.Chmod(base, 0o1777)
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "other")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "NSUP_TEST_CACHE_RACE="+base)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	cache := filepath.Join(base, "cache")
	p := filepath.Join(cache, "tar", strings.Repeat("ab", 32))
	used := 0
	for i := 0; i < 300; i++ {
		removeTree(cache)
		f, err := useEntry(context.Background(), p, func(_ context.Context, tmp string) (entryMeta, error) {
			return entryMeta{}, os.WriteFile(filepath.Join(tmp, "BUILT"), nil, 0o600)
		})
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Lstat(cache, &st) == nil && st.Uid == 65534 {
			used++
		}
		f.Close()
	}
	if used > 0 {
		t.Errorf("a cache made by uid 65534 after the first check was used %d times of 300", used)
	}
}
