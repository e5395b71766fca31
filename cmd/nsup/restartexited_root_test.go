package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRootRestartExited: nsup restart of a detached environment that had
// ended on its own says so, with its status, as nsup down does; it said
// "stopped (status 4)", as if restart had stopped it.
func TestRootRestartExited(t *testing.T) {
	requireBusybox(t)
	dir := rootTestDirs(t)
	f := filepath.Join(dir, "nsup.yaml")
	os.WriteFile(f, []byte(`version: 1
name: rexit
environments:
  app:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    processes:
      - {name: main, command: [/bin/busybox, sh, -c, "exit 4"]}
`), 0o644)
	t.Cleanup(func() { nsup(t, "down", "-p", "rexit") })
	if code, _, errs := nsup(t, "apply", "-d", f); code != 0 {
		t.Fatalf("apply -d: %d %s", code, errs)
	}
	ended := false
	for deadline := time.Now().Add(10 * time.Second); !ended && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, out, _ := nsup(t, "ps", "--json", "-p", "rexit")
		var entries []psEntry
		json.Unmarshal([]byte(out), &entries)
		ended = len(entries) == 1 && !entries[0].Running && entries[0].ExitStatus != nil
	}
	if !ended {
		t.Fatal("app did not end within 10 s")
	}
	code, out, errs := nsup(t, "restart", "rexit/app")
	if code != 0 || !strings.HasPrefix(out, "rexit/app: had exited (status 4)\n") {
		t.Errorf("restart of an environment that had exited: %d %q %s", code, out, errs)
	}
}
