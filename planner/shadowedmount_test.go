package planner

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMountShadowedByLaterRefused (helper-78's review): a mount listed
// before one whose target is a folder above its own is covered by it
// whole (mounts are made in the order listed): a tmpfs at /work/secrets
// before the bind of ./app at /work hid nothing, and the process read
// the host's app/secrets/token. It is refused, naming the later mount;
// listed after it, below it, or at the same point (stacked on top of
// it), it plans.
func TestMountShadowedByLaterRefused(t *testing.T) {
	dir := t.TempDir()
	refusalTree(t, dir, []string{"rootfs/work", "app/secrets", "other"}, nil)
	if err := os.WriteFile(filepath.Join(dir, "app/secrets/token"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	const bind = "      - {type: bind, source: ./app, target: /work, readonly: true}\n"
	const tmpfs = "      - {type: tmpfs, target: /work/secrets}\n"
	opts := fixedOptions(Options{Caller: &rootCaller})
	checkRefusalsIn(t, dir, "{dir: ./rootfs, readonly: true}", "mnt, pid", "", opts, []refusal{
		{tmpfs + bind, "", "t.yaml:7:9: environments.a.mounts[0]: the tmpfs at /work/secrets lies below environments.a.mounts[1] at /work, listed after it, which is mounted after it and covers it whole: it would not be seen, and what it is to hide would be; list it after environments.a.mounts[1]"},
		{"      - {type: bind, source: ./other, target: /work/secrets/x}\n" + tmpfs, "", "the bind at /work/secrets/x lies below environments.a.mounts[1] at /work/secrets"},
		{bind + tmpfs, "", ""},
		{bind + "      - {type: bind, source: ./other, target: /work}\n", "", ""},
		{tmpfs + "      - {type: tmpfs, target: /work/secretsx}\n", "", ""},
	})
}
