package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVolumeRmFolderRefused: volume rm and down --volumes remove what
// they find in the project's folder of the volume folder, which they
// did not check as apply does (lifecycle.CheckProjectDir: the caller's
// alone, reached through no link). Found by helper-109's attacker
// review: a host user who may write the volume folder (an NSUP_VOLUME_DIR
// they made first, or a rootless user's /tmp/nsup-volumes-UID) made the
// project's folder a link to a folder of the caller's, and volume rm
// removed the folder of the volume's name there, down --volumes every
// folder there (os.RemoveAll follows a link on the way). Now both refuse
// a volume folder or a project's folder that is not the caller's alone
// (owndir.Check's rules), and remove nothing.
func TestVolumeRmFolderRefused(t *testing.T) {
	top := t.TempDir()
	vols, victim := filepath.Join(top, "volumes"), filepath.Join(top, "victim")
	for _, d := range []string{vols, filepath.Join(victim, "data")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(victim, "data", "keep"), []byte("kept\n"), 0o600)
	os.Chmod(vols, 0o777) // a host user's to write in
	if err := os.Symlink(victim, filepath.Join(vols, "proj")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NSUP_VOLUME_DIR", vols)
	state := filepath.Join(top, "state")
	os.Mkdir(state, 0o700)
	t.Setenv("NSUP_STATE_DIR", state)
	code, out, errs := nsup(t, "volume", "rm", "-p", "proj", "data")
	if _, err := os.Stat(filepath.Join(victim, "data", "keep")); err != nil {
		t.Errorf("volume rm removed %s through the link: %v (exit %d, %q %q)", filepath.Join(victim, "data"), err, code, out, errs)
	}
	// Named as what it is (helper-131's review: "state directory").
	if code != 1 || !strings.Contains(errs, "volume folder "+vols) {
		t.Errorf("volume rm: exit %d, stdout %q, stderr %q: want the volume folder %s refused, named so", code, out, errs, vols)
	}
}
