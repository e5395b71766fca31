package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

const volumeFgSpec = `version: 1
name: fg
volumes:
  data:
environments:
  app:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    mounts:
      - {type: volume, source: data, target: /data}
    processes:
      - {name: main, command: [/bin/busybox, sh, -c, 'echo kept > /data/x; echo ready; read x; echo bye']}
`

// TestRootVolumeInUseForeground: a volume a foreground nsup apply's
// environment uses is listed with that apply's environment (PROJECT/ENV,
// by its record in the volume's lock: it was named by its command line,
// "nsup apply SPEC (pid N)", before) as its user, and volume rm
// and down --volumes keep it and its content; once the environment has
// ended, volume rm removes it. An apply while the volume's lock is held
// exclusive (a volume rm under way) fails. Found by a review: only
// detached environments' records were looked at, and volume rm removed
// the volume under the running environment.
func TestRootVolumeInUseForeground(t *testing.T) {
	dir := rootTestDirs(t)
	bin := buildNsup(t)
	vols := filepath.Join(dir, "volumes")
	t.Setenv("NSUP_VOLUME_DIR", vols)
	f := filepath.Join(dir, "nsup.yaml")
	if err := os.WriteFile(f, []byte(volumeFgSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	t.Cleanup(func() { nsup(t, "volume", "rm", "data") })
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer outR.Close()
	cmd := exec.Command(bin, "apply", f)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	inR.Close()
	outW.Close()
	ended := false
	end := func() error {
		inW.Close() // read x ends: the environment ends
		if ended {
			return nil
		}
		ended = true
		return cmd.Wait()
	}
	t.Cleanup(func() { end() })
	lines := bufio.NewReader(outR)
	for {
		l, err := lines.ReadString('\n')
		if strings.Contains(l, "ready") {
			break
		}
		if err != nil {
			end()
			t.Fatalf("apply ended before its environment was ready: %v\n%s", err, stderr.String())
		}
	}
	vol := filepath.Join(vols, "fg", "data")
	x := filepath.Join(vol, "x")
	// Named by the apply's record in the lock: a record of its pid with
	// another start time (an apply that had the pid before) names nobody.
	lockPath := filepath.Join(vols, "fg", "data.lock")
	if lf, err := os.OpenFile(lockPath, os.O_WRONLY|os.O_APPEND, 0); err == nil {
		fmt.Fprintf(lf, "%d 1 stale\n", cmd.Process.Pid)
		lf.Close()
	}
	user := fmt.Sprintf("fg/app (nsup apply, pid %d)", cmd.Process.Pid)
	code, out, errs := nsup(t, "volume", "ls")
	if code != 0 || !strings.Contains(out, user) {
		t.Errorf("volume ls does not show the foreground apply %s as the user: %d\n%s%s", user, code, out, errs)
	}
	for _, args := range [][]string{{"volume", "rm", "data"}, {"down", "--volumes"}} {
		code, _, errs := nsup(t, args...)
		if code == 0 || !strings.Contains(errs, "volume fg/data: in use by "+user+": kept") {
			t.Errorf("%s with the volume in use: %d %s", strings.Join(args, " "), code, errs)
		}
		if b, err := os.ReadFile(x); err != nil || string(b) != "kept\n" {
			t.Fatalf("%s removed the volume in use: %q %v", strings.Join(args, " "), b, err)
		}
	}
	if err := end(); err != nil {
		t.Fatalf("apply: %v\n%s", err, stderr.String())
	}
	// A volume rm under way (its lock held exclusive): an apply fails.
	lock, err := os.OpenFile(lockPath, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("the volume's lock file: %v", err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	ap := exec.Command(bin, "apply", f)
	ap.Dir, ap.Env = dir, cmd.Env
	if b, err := ap.CombinedOutput(); err == nil || !strings.Contains(string(b), "is being removed (nsup volume rm)") {
		t.Errorf("apply while the volume is being removed: %v\n%s", err, b)
	}
	lock.Close()
	if code, out, errs := nsup(t, "volume", "rm", "data"); code != 0 || out != "volume fg/data: removed\n" {
		t.Errorf("volume rm once the environment has ended: %d %s %s", code, out, errs)
	}
	if _, err := os.Lstat(filepath.Join(vols, "fg")); !os.IsNotExist(err) {
		t.Errorf("the project's volume folder is left: %v", err)
	}
}
