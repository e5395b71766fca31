package owndir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: %s", why)
	}
	t.Skip(why)
}

// TestRootCheckOthersLink: a folder reached through another user's
// symlink in a sticky folder (/tmp/nsup-run-UID, the state directory of a
// user without XDG_RUNTIME_DIR, made first by someone else as a link to a
// folder of the caller's) is refused: the link's owner may point it
// elsewhere at any moment, and everything nsup does after the check
// follows it. Found by a real run (helper-97's review, fs.protected_symlinks
// = 0): with such a link flipped between the caller's state directory and
// the attacker's (made 0755, its control.sock 0777), 9 of 180 nsup exec
// runs of the caller ran in the attacker's environment, handed the
// caller's stdio. A link of the caller's or root's is followed as before.
func TestRootCheckOthersLink(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root (a symlink of another uid)")
	}
	dir := t.TempDir()
	sticky := filepath.Join(dir, "tmp")
	own := filepath.Join(dir, "own")
	if err := os.Mkdir(sticky, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(sticky, 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(own, 0o700); err != nil {
		t.Fatal(err)
	}
	others := filepath.Join(sticky, "nsup-run-0")
	mine := filepath.Join(sticky, "mine")
	for _, l := range []string{others, mine} {
		if err := os.Symlink(own, l); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Lchown(others, 1234, 1234); err != nil {
		t.Fatal(err)
	}
	// A link of root's that leads through the other user's: refused too.
	chain := filepath.Join(dir, "chain")
	if err := os.Symlink(others, chain); err != nil {
		t.Fatal(err)
	}
	// And a path through it, with a ".." after it.
	if err := os.Mkdir(filepath.Join(own, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	below := others + "/sub/../sub"

	for _, d := range []string{own, mine, filepath.Join(mine, "sub"), filepath.Join(dir, "tmp", "..", "own")} {
		if err := Check("state directory", d); err != nil {
			t.Errorf("Check(%s): %v, want nil", d, err)
		}
	}
	for _, d := range []string{others, chain, below} {
		err := Check("state directory", d)
		if err == nil || !errors.Is(err, unix.EPERM) || !strings.Contains(err.Error(), others) {
			t.Errorf("Check(%s) = %v, want EPERM naming the link %s", d, err, others)
		}
	}
}

// TestRootCheckLinkInOthersFolder: a link of root's or the caller's is
// followed, but the folder it lies in was never checked when it was
// neither on the path as given nor on the resolved one: a link of the
// caller's to a link of root's in another user's folder, which led to the
// caller's state directory, passed, and that user may replace the link in
// its folder with one of its own (to its own state directory and control
// socket) a moment after the check, as helper-97's flipped link did in a
// sticky folder (found by helper-99's review of that fix). Each folder a
// link met lies in is checked as the folders on the way are.
func TestRootCheckLinkInOthersFolder(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root (a folder of another uid)")
	}
	dir := t.TempDir()
	own := filepath.Join(dir, "own")
	att := filepath.Join(dir, "att")
	for _, d := range []string{own, att, filepath.Join(att, "sub")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(att, 1234, 1234); err != nil {
		t.Fatal(err)
	}
	// Root's links, in the other user's folder and in a folder of root's
	// in it; then links of root's, in a folder of root's, to each.
	inAtt, inSub := filepath.Join(att, "l"), filepath.Join(att, "sub", "l")
	for _, l := range []string{inAtt, inSub} {
		if err := os.Symlink(own, l); err != nil {
			t.Fatal(err)
		}
	}
	toAtt, toSub := filepath.Join(dir, "to-att"), filepath.Join(dir, "to-sub")
	os.Symlink(inAtt, toAtt)
	os.Symlink(inSub, toSub)
	if err := Check("state directory", own); err != nil {
		t.Fatalf("Check(%s): %v, want nil", own, err)
	}
	for _, d := range []string{toAtt, toSub} {
		err := Check("state directory", d)
		if err == nil || !errors.Is(err, unix.EPERM) || !strings.Contains(err.Error(), att) {
			t.Errorf("Check(%s) = %v, want EPERM naming %s", d, err, att)
		}
	}
}
