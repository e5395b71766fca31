package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
)

// TestUnknownEnvironment: an ENV that no detached environment has is an
// error (exit status 1) for down, exec and logs, with the nearest name
// the state directory holds; down then takes nothing down. Nothing here
// reaches an environment's processes or the host's cgroups: each command
// stops before them (TestRootLifecycle covers down FILE of environments
// that are not running).
func TestUnknownEnvironment(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	t.Setenv("NSUP_STATE_DIR", state)
	// app and web: environments that ran and ended (each lock free,
	// holding the exit status).
	for _, name := range []string{"app", "web"} {
		d := filepath.Join(state, "proj", name)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := lifecycle.WriteState(filepath.Join(d, planner.StateFile), &lifecycle.State{Name: name, Pid: 1}); err != nil {
			t.Fatal(err)
		}
		for file, content := range map[string]string{planner.LogFile: "hello from " + name + "\n", planner.LockFile: "0\n"} {
			if err := os.WriteFile(filepath.Join(d, file), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, args := range [][]string{{"down", "ap"}, {"exec", "ap", "--", "true"}, {"logs", "ap"}, {"logs", "-f", "ap"}, {"down", "web", "ap"}, {"port", "ap"}} {
		typo := "nsup: " + args[0] + ": no detached environment \"ap\": did you mean app?\n"
		if code, out, errs := nsup(t, args...); code != 1 || out != "" || errs != typo {
			t.Errorf("nsup %q: exit %d, stdout %q, stderr %q; want exit 1, stderr %q", args, code, out, errs, typo)
		}
	}
	if _, err := os.Stat(filepath.Join(state, "proj", "web", planner.StateFile)); err != nil {
		t.Errorf("down web ap took web down: %v", err)
	}
	if code, _, errs := nsup(t, "down", "database"); code != 1 || errs != "nsup: down: no detached environment \"database\" (there: app, web)\n" {
		t.Errorf("down database: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := nsup(t, "down", "other/app"); code != 1 || errs != "nsup: down: no detached environment \"app\" in project other; project proj has one: nsup down proj/app\n" {
		t.Errorf("down other/app: exit %d, stderr %q", code, errs)
	}
	if code, out, errs := nsup(t, "logs", "web"); code != 0 || out != "hello from web\n" {
		t.Errorf("logs web: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if code, out, errs := nsup(t, "logs", "proj/web"); code != 0 || out != "hello from web\n" {
		t.Errorf("logs proj/web: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	// No state directory: no environment at all.
	t.Setenv("NSUP_STATE_DIR", filepath.Join(t.TempDir(), "none"))
	for _, args := range [][]string{{"down", "web"}, {"exec", "web", "--", "true"}, {"logs", "web"}} {
		want := "nsup: " + args[0] + ": no detached environment \"web\" (none is running: nsup ps lists them)\n"
		if code, out, errs := nsup(t, args...); code != 1 || out != "" || errs != want {
			t.Errorf("nsup %q without a state directory: exit %d, stdout %q, stderr %q; want exit 1, stderr %q", args, code, out, errs, want)
		}
	}
	// A state directory refused (anyone may write it): not "none is
	// running", which it said before (helper-97's review), but why.
	ww := filepath.Join(t.TempDir(), "ww")
	os.Mkdir(ww, 0o700)
	os.Chmod(ww, 0o777)
	t.Setenv("NSUP_STATE_DIR", ww)
	for _, args := range [][]string{{"down", "web"}, {"exec", "web", "--", "true"}, {"logs", "web"}} {
		want := "nsup: " + args[0] + ": no detached environment \"web\" found: state directory " + ww + " is not a folder of uid "
		// And the way out (helper-131's review: none was named).
		if code, out, errs := nsup(t, args...); code != 1 || out != "" || !strings.HasPrefix(errs, want) || !strings.Contains(errs, "name a state directory of your own with NSUP_STATE_DIR") {
			t.Errorf("nsup %q with a state directory anyone may write: exit %d, stdout %q, stderr %q; want exit 1, stderr from %q", args, code, out, errs, want)
		}
	}
}

// A folder's project is its spec's name key with its variables resolved,
// not the folder's name: else down, volume rm and the others would act on
// another checkout's project of the folder's name.
func TestScopeNameVariable(t *testing.T) {
	root := t.TempDir()
	state := filepath.Join(root, "state")
	t.Setenv("NSUP_STATE_DIR", state)
	for _, p := range []string{"myproj", "app"} {
		d := filepath.Join(state, p, "web")
		os.MkdirAll(d, 0o700)
		lifecycle.WriteState(filepath.Join(d, planner.StateFile), &lifecycle.State{Name: "web", Pid: 1})
		os.WriteFile(filepath.Join(d, planner.LogFile), []byte("log of "+p+"\n"), 0o600)
		os.WriteFile(filepath.Join(d, planner.LockFile), []byte("0\n"), 0o600)
	}
	dir := filepath.Join(root, "app")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "nsup.yaml"), []byte("version: 1\nname: ${NSUP_TEST_PROJECT:-myproj}\nenvironments:\n  web:\n    rootfs: {dir: /srv}\n    namespaces: [mnt]\n    processes: [{name: main, command: [/bin/true]}]\n"), 0o644)
	t.Chdir(dir)
	if code, out, errs := nsup(t, "logs", "web"); code != 0 || out != "log of myproj\n" {
		t.Errorf("logs web: %d %q %s", code, out, errs)
	}
	// Its name unresolvable: an error, not a guess.
	os.WriteFile(filepath.Join(dir, "nsup.yaml"), []byte("version: 1\nname: ${NSUP_TEST_UNSET_PROJECT}\nenvironments:\n  web:\n    rootfs: {dir: /srv}\n    namespaces: [mnt]\n    processes: [{name: main, command: [/bin/true]}]\n"), 0o644)
	if code, out, errs := nsup(t, "logs", "web"); code != 2 || out != "" || !strings.Contains(errs, "its project cannot be told") {
		t.Errorf("logs web with an unset name: %d %q %s", code, out, errs)
	}
}

// TestVolumeRmStateRefused: volume rm keeps a volume a running
// environment uses, by the state directory; with that directory refused
// (anyone may write it), ListAll's error was dropped, nothing was taken
// to run, and the volume was removed. Now volume rm and ls fail naming
// the refusal, and the volume stays.
func TestVolumeRmStateRefused(t *testing.T) {
	top := t.TempDir()
	vol := filepath.Join(top, "volumes", "proj", "data")
	if err := os.MkdirAll(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NSUP_VOLUME_DIR", filepath.Join(top, "volumes"))
	ww := filepath.Join(top, "ww")
	os.Mkdir(ww, 0o700)
	os.Chmod(ww, 0o777)
	t.Setenv("NSUP_STATE_DIR", ww)
	for _, args := range [][]string{{"volume", "rm", "-p", "proj", "data"}, {"volume", "ls", "-p", "proj"}} {
		code, _, errs := nsup(t, args...)
		if code != 1 || !strings.Contains(errs, "which volumes running environments use is not known: state directory "+ww) {
			t.Errorf("nsup %q with a state directory anyone may write: exit %d, stderr %q", args, code, errs)
		}
	}
	if _, err := os.Stat(vol); err != nil {
		t.Errorf("volume rm removed the volume: %v", err)
	}
}

// TestVolumeLockOnly: a volume whose folder was removed by hand leaves its
// lock file, NAME.lock: volume ls lists no volume for it, volume rm NAME
// removes it (and the project's folder, then empty), and down --volumes
// removes such a lock with the project's volumes. Before, volume rm said
// the project has no such volume, and the lock stayed for good.
func TestVolumeLockOnly(t *testing.T) {
	top := t.TempDir()
	vols := filepath.Join(top, "volumes")
	t.Setenv("NSUP_VOLUME_DIR", vols)
	t.Setenv("NSUP_STATE_DIR", filepath.Join(top, "state"))
	proj := filepath.Join(vols, "proj")
	if err := os.MkdirAll(filepath.Join(proj, "kept"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"gone.lock", "kept.lock", "other.lock"} {
		os.WriteFile(filepath.Join(proj, f), nil, 0o600)
	}
	code, out, errs := nsup(t, "volume", "ls", "-p", "proj")
	if code != 0 || strings.Contains(out, "gone") || !strings.Contains(out, "kept") {
		t.Errorf("volume ls: %d %q %s", code, out, errs)
	}
	code, out, errs = nsup(t, "volume", "rm", "-p", "proj", "gone")
	if code != 0 || out != "volume proj/gone: removed its lock file (its folder was gone)\n" {
		t.Errorf("volume rm of a volume whose folder is gone: %d %q %s", code, out, errs)
	}
	if _, err := os.Lstat(filepath.Join(proj, "gone.lock")); !os.IsNotExist(err) {
		t.Errorf("volume rm left the lock: %v", err)
	}
	if code, _, errs := nsup(t, "volume", "rm", "-p", "proj", "gone"); code != 1 || !strings.Contains(errs, `project proj has no volume "gone"`) {
		t.Errorf("volume rm once more: %d %s", code, errs)
	}
	code, out, errs = nsup(t, "down", "-p", "proj", "--volumes")
	if code != 0 || out != "volume proj/kept: removed\n" {
		t.Errorf("down --volumes: %d %q %s", code, out, errs)
	}
	if _, err := os.Lstat(proj); !os.IsNotExist(err) {
		ents, _ := os.ReadDir(proj)
		t.Errorf("down --volumes left the project's folder: %v %v", err, ents)
	}
}

// TestDownVolumesNamesUsage: down --volumes with environment names is a
// usage error (exit 2) whether or not they run; with nothing running it
// said "no detached environment" (exit 1), hiding the usage (helper-133).
func TestDownVolumesNamesUsage(t *testing.T) {
	top := t.TempDir()
	t.Setenv("NSUP_VOLUME_DIR", filepath.Join(top, "volumes"))
	t.Setenv("NSUP_STATE_DIR", filepath.Join(top, "state"))
	for _, args := range [][]string{{"db"}, {"-p", "proj", "db"}, {"db", "web"}} {
		code, out, errs := nsup(t, append([]string{"down", "--volumes"}, args...)...)
		if code != 2 || out != "" || !strings.Contains(errs, "down --volumes takes a whole project down") {
			t.Errorf("down --volumes %v: %d %q %s", args, code, out, errs)
		}
	}
}

// TestMissingSpecFileSaid (helper-151's trial): a spec file that is not
// there is said so, as an error of nsup's: `nsup down nosuch.yaml` said
// it was no environment name, and `nsup validate nosuch.yaml` printed
// the open error bare, with no "nsup: ".
func TestMissingSpecFileSaid(t *testing.T) {
	top := t.TempDir()
	t.Setenv("NSUP_STATE_DIR", filepath.Join(top, "state"))
	t.Chdir(top)
	if err := os.Mkdir("dir.yaml", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"down", "nosuch.yaml"}, "nsup: nosuch.yaml: no such spec file: no such file or directory (down takes ENV, PROJECT/ENV or one FILE)\n"},
		{[]string{"down", "dir.yaml"}, "nsup: dir.yaml is not a spec file (down takes ENV, PROJECT/ENV or one FILE)\n"},
		{[]string{"validate", "nosuch.yaml"}, "nsup: open nosuch.yaml: no such file or directory\n"},
		{[]string{"plan", "nosuch.yml"}, "nsup: open nosuch.yml: no such file or directory\n"},
	} {
		code, out, errs := nsup(t, c.args...)
		if code != 2 || out != "" || !strings.HasPrefix(errs, c.want) {
			t.Errorf("%v: %d %q %q, want 2 and %q", c.args, code, out, errs, c.want)
		}
	}
}

// TestLogsNotStarted (helper-151's trial): an environment nsup apply -d
// did not start (its dependency never became healthy) is listed by ps as
// "not started"; nsup logs said "no such environment". It says why it
// has no output now.
func TestLogsNotStarted(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	t.Setenv("NSUP_STATE_DIR", state)
	d := filepath.Join(state, "proj", "client")
	if err := os.MkdirAll(d, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := lifecycle.WriteState(filepath.Join(d, planner.StateFile), &lifecycle.State{Name: "client", NotStarted: "web did not become healthy"}); err != nil {
		t.Fatal(err)
	}
	code, out, errs := nsup(t, "logs", "proj/client")
	if want := "nsup: client was not started (web did not become healthy): it has no output\n"; code != 1 || out != "" || errs != want {
		t.Errorf("logs of a not-started environment: %d %q %q, want 1 and %q", code, out, errs, want)
	}
}
