package planner

import "testing"

// TestSubfolderBoundReadonlyRefused (helper-68's review): a read-only
// bind of a host folder onto its own place in a subfolder of a writable
// bind of its parent is refused (TestRootSubfolderMountRenamed); one
// directly in the bound folder, one of another source, one below a
// subfolder bound itself, or below a read-only bind, plans.
func TestSubfolderBoundReadonlyRefused(t *testing.T) {
	dir := t.TempDir()
	refusalTree(t, dir, []string{"rootfs/data", "host/a/b/c", "host/c", "other"}, map[string]string{"lnk": "host"})
	const bind = "      - {type: bind, source: ./host, target: /data}\n"
	checkRefusals(t, dir, "mnt, pid", "", fixedOptions(Options{Caller: &rootCaller}), []refusal{
		{bind + "      - {type: bind, source: ./host/a/b, target: /data/a/b, readonly: true}\n", "", "lies in /data/a, a subfolder of the writable bind at /data"},
		{bind + "      - {type: bind, source: ./lnk/a/b, target: /data/a/b, readonly: true}\n", "", "could rename /data/a"},
		{bind + "      - {type: bind, source: ./host/c, target: /data/c, readonly: true}\n", "", ""},
		// Another source: found again by its own host path, over a host
		// folder that is not there (helper-75's review: over host/a/b,
		// which holds c, it hides that, subfolderMountHides).
		{bind + "      - {type: bind, source: ./other, target: /data/a/new, readonly: true}\n", "", ""},
		{bind + "      - {type: bind, source: ./other, target: /data/a/b, readonly: true}\n", "", "the read-only bind of " + dir + "/other at /data/a/b, which hides the host's " + dir + "/host/a/b, lies in /data/a"},
		{bind + "      - {type: bind, source: ./host/a, target: /data/a}\n      - {type: bind, source: ./host/a/b, target: /data/a/b, readonly: true}\n", "", ""},
		{"      - {type: bind, source: ./host, target: /data, readonly: true}\n      - {type: bind, source: ./host/a/b, target: /data/a/b, readonly: true}\n", "", ""},
		// Helper-69's review: a source that is not there yet (made by
		// apply, create: true), spelled through a link of the host's.
		{bind + "      - {type: bind, source: ./lnk/a/new/b, target: /data/a/new/b, readonly: true, create: true}\n", "", "could rename /data/a"},
		// Helper-69's review: below a writable bind of the same folder
		// onto its own place, in a subfolder.
		{bind + "      - {type: bind, source: ./host/a/b, target: /data/a/b}\n      - {type: bind, source: ./host/a/b/c, target: /data/a/b/c, readonly: true}\n", "",
			"the read-only bind of " + dir + "/host/a/b/c at /data/a/b/c lies in the bind at /data/a/b (of the very folder the writable bind at /data shows there), in /data/a, a subfolder of the writable bind at /data"},
	})
}
