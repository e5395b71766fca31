package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSpecFileBothNames: a folder with both nsup.yaml and nsup.yml is
// refused, not read as nsup.yaml. A review, as root in a dev box whose
// project (its spec nsup.yml) was bound writable, wrote nsup.yaml beside
// it (nsup.yml, bound read-only over itself, stayed as it was) with a bind
// of the host's /etc; the next nsup run in the project found nsup.yaml
// first and root inside read the host's /etc/shadow.
func TestSpecFileBothNames(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	text := []byte("version: 1\nenvironments:\n  box:\n    rootfs: {closure: [/bin/true]}\n    namespaces: [mnt]\n    processes: [{name: main, command: [/bin/true]}]\n")
	yml := filepath.Join(dir, "nsup.yml")
	if err := os.WriteFile(yml, text, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := specFile(dir); err != nil || got != yml {
		t.Fatalf("nsup.yml alone: %q %v", got, err)
	}
	yaml := filepath.Join(dir, "nsup.yaml")
	if err := os.WriteFile(yaml, text, 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	for _, from := range []string{dir, sub} {
		got, err := specFile(from)
		if err == nil || !strings.Contains(err.Error(), "both") {
			t.Errorf("from %s, nsup.yaml and nsup.yml in %s: %q %v, want both refused", from, dir, got, err)
		}
	}
	os.Remove(yml)
	if got, err := specFile(dir); err != nil || got != yaml {
		t.Errorf("nsup.yaml alone: %q %v", got, err)
	}
}
