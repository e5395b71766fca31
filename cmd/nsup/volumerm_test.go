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

// TestVolumeRmProjectName: volume rm takes a volume as volume ls lists it
// and as rm itself names it, PROJECT/NAME, from a folder with no
// nsup.yaml and without -p; a PROJECT/NAME of another project than -p's
// is refused, and nothing removed, nor when a name of any project is
// unknown. Before, rm took NAME alone, of the
// project here or -p's, and "shop/www" was no volume of it (helper-151's
// user trial).
func TestVolumeRmProjectName(t *testing.T) {
	top := t.TempDir()
	vols := filepath.Join(top, "volumes")
	for _, v := range []string{"shop/www", "shop/db", "blog/www"} {
		if err := os.MkdirAll(filepath.Join(vols, v), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("NSUP_VOLUME_DIR", vols)
	state := filepath.Join(top, "state")
	os.Mkdir(state, 0o700)
	t.Setenv("NSUP_STATE_DIR", state)
	t.Chdir(top)
	code, out, errs := nsup(t, "volume", "ls", "--all")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 4 {
		t.Fatalf("volume ls --all: %d %q %q", code, out, errs)
	}
	var listed []string
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		listed = append(listed, f[0]+"/"+f[1]) // PROJECT NAME
	}
	if code, out, errs := nsup(t, "volume", "rm", "-p", "blog", "shop/www"); code != 2 || out != "" || !strings.Contains(errs, `"shop/www" is not of -p blog's project`) {
		t.Errorf("volume rm -p blog shop/www: %d %q %q", code, out, errs)
	}
	if code, out, errs := nsup(t, "volume", "rm", "shop/nosuch", "shop/www"); code != 1 || out != "" || !strings.Contains(errs, `project shop has no volume "nosuch"`) {
		t.Errorf("volume rm shop/nosuch shop/www: %d %q %q", code, out, errs)
	}
	// A name unknown in the second project: the first's is not removed
	// either (before, shop/www was removed, then blog/nosuch refused).
	if code, out, errs := nsup(t, "volume", "rm", "shop/www", "blog/nosuch"); code != 1 || out != "" || !strings.Contains(errs, `project blog has no volume "nosuch"`) {
		t.Errorf("volume rm shop/www blog/nosuch: %d %q %q", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(vols, "shop/www")); err != nil {
		t.Fatalf("a refused volume rm removed shop/www: %v", err)
	}
	code, out, errs = nsup(t, append([]string{"volume", "rm"}, listed...)...)
	want := "volume blog/www: removed\nvolume shop/db: removed\nvolume shop/www: removed\n"
	if code != 0 || out != want {
		t.Errorf("volume rm %v: %d %q %q, want %q", listed, code, out, errs, want)
	}
	if ents, _ := os.ReadDir(vols); len(ents) != 0 {
		t.Errorf("left in the volume folder: %v", ents)
	}
}
