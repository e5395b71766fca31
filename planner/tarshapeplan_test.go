package planner

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTarShapePlan: a tar root's tree is known to the plan through its
// archive's shape (tarshape.go), and checked as a closure's is: a target
// that is a link of the archive is mounted where it leads; a file bound
// on a folder of it, a folder's mount on a file of it or below one, a cwd
// through a file of it, and a command it lacks, are refused with the
// spec's place (each failed at apply before); a target it lacks is made
// in the overlay's upper layer, and plans.
func TestTarShapePlan(t *testing.T) {
	dir := t.TempDir()
	archive := writeTar(t, dir, "root.tar",
		tarEtcDir, tarHosts, tarTrue,
		tar.Header{Name: "usr/bin/env", Typeflag: tar.TypeReg, Mode: 0o755},
		tar.Header{Name: "usr/lib64/", Typeflag: tar.TypeDir, Mode: 0o755},
		tar.Header{Name: "srv/", Typeflag: tar.TypeDir, Mode: 0o755},
		tar.Header{Name: "data", Typeflag: tar.TypeReg},
		tar.Header{Name: "notes.txt", Typeflag: tar.TypeReg, Mode: 0o644},
		tar.Header{Name: "lib64", Typeflag: tar.TypeSymlink, Linkname: "usr/lib64"},
		tar.Header{Name: "toroot", Typeflag: tar.TypeSymlink, Linkname: "/"},
		tar.Header{Name: "loop", Typeflag: tar.TypeSymlink, Linkname: "loop"},
		tar.Header{Name: "var/run", Typeflag: tar.TypeSymlink, Linkname: "/run"},
		tar.Header{Name: "tofile", Typeflag: tar.TypeSymlink, Linkname: "data"},
		tar.Header{Name: "truedot", Typeflag: tar.TypeSymlink, Linkname: "bin/true/."},
	)
	file := filepath.Join(dir, "conf")
	os.WriteFile(file, []byte("x\n"), 0o644)
	for _, tc := range []struct {
		name, env, command string
		err                string // "": plans
		want               string // in the plan's text
	}{
		{name: "link target", env: "    mounts: [{type: tmpfs, target: /lib64}]\n",
			want: `<root>/usr/lib64, "tmpfs"`},
		{name: "link to the root", env: "    mounts: [{type: tmpfs, target: /toroot}]\n",
			err: `l.yaml:6:14: environments.t.mounts[0].target: /toroot is a symlink of the root (-> "/") that leads to the root itself`},
		{name: "link in circles", env: "    mounts: [{type: tmpfs, target: /loop}]\n",
			err: `l.yaml:6:14: environments.t.mounts[0].target: /loop is a symlink of the root (-> "loop") that leads round in circles`},
		{name: "file on a folder", env: "    mounts: [{type: bind, source: " + file + ", target: /srv}]\n",
			err: "l.yaml:6:14: environments.t.mounts[0].target: /srv is a folder of the tar root's archive " + archive + ", and the bind of " + file + ", a file, needs a file there"},
		{name: "folder on a file", env: "    mounts: [{type: tmpfs, target: /data}]\n",
			err: "l.yaml:6:14: environments.t.mounts[0].target: /data is a file of the tar root's archive " + archive + ", and a tmpfs mount needs a folder there"},
		{name: "through a link to a file", env: "    mounts: [{type: tmpfs, target: /tofile/x}]\n",
			err: "l.yaml:6:14: environments.t.mounts[0].target: /tofile/x leads through the root's links to /data, a file of the root, not a folder: apply could not reach the target (ENOTDIR)"},
		{name: "below a file", env: "    mounts: [{type: tmpfs, target: /data/x}]\n",
			err: "l.yaml:6:14: environments.t.mounts[0].target: /data/x lies below /data, a file of the tar root's archive " + archive + ", not a folder"},
		{name: "file on a file", env: "    mounts: [{type: bind, source: " + file + ", target: /notes.txt}]\n",
			want: `move_mount(its fd, <root>/notes.txt)`},
		{name: "missing target", env: "    mounts: [{type: tmpfs, target: /new/dir}, {type: bind, source: " + file + ", target: /new/file}]\n",
			want: `<root>/new/file), create target file if missing`},
		{name: "cwd through a file", env: "    cwd: /data/x\n",
			err: "l.yaml:6:10: environments.t.cwd: /data/x passes through /data, which is no folder (a file) in the environment's tree"},
		{name: "cwd through a link into a mount", env: "    mounts: [{type: tmpfs, target: /run}]\n    cwd: /var/run/app\n",
			err: "l.yaml:7:10: environments.t.cwd: /var/run/app leads through a symlink of the tar root's archive " + archive + " to /run/app, in the mount at /run (environments.t.mounts[0]): nsup makes a missing working directory in the overlay's upper layer by a walk that crosses no mount, and the process's chdir would fail; give the cwd as /run/app"},
		{name: "cwd through a link to a file", env: "    cwd: /tofile/x\n",
			err: "l.yaml:6:10: environments.t.cwd: /tofile/x passes through /data where the tree's links lead it, which is no folder (a file) in the environment's tree: the process's chdir would fail"},
		{name: "cwd a link to a file", env: "    cwd: /tofile\n",
			err: "l.yaml:6:10: environments.t.cwd: /tofile passes through /data where the tree's links lead it, which is no folder (a file)"},
		{name: "cwd through a link", env: "    cwd: /lib64/x\n", want: `mkdirat(<root>/lib64/x, 0755) if missing`},
		{name: "missing cwd", env: "    cwd: /new\n", want: "the working directory, in the overlay's upper layer"},
		{name: "command missing", command: "[nope]",
			err: `l.yaml:7:32: environments.t.processes[0].command[0]: "nope" not found in the rootfs nor in its mounts`},
		{name: "command in PATH", command: "[env]", want: `execve("/usr/bin/env", ["env"]`},
		{name: "command a link to a file's \".\"", command: "[/truedot]",
			err: `environments.t.processes[0].command[0]: "/truedot" not found in the rootfs`},
		{name: "command not executable", command: "[/notes.txt]",
			err: `environments.t.processes[0].command[0]: "/notes.txt" is not a command the process may run (PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin): /notes.txt is not executable (mode 0644, no execute bit)`},
	} {
		command := tc.command
		if command == "" {
			command = "[/bin/true]"
		}
		text := "version: 1\nenvironments:\n  t:\n    rootfs: {tar: " + archive + "}\n    namespaces: [mnt, pid]\n" + tc.env + "    processes:\n      - {name: main, command: " + command + "}\n"
		p, err := compileLimits(t, text, rootCaller, "hybrid")
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: %v\nwant %s", tc.name, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err == "":
			var b bytes.Buffer
			Render(&b, p)
			if !strings.Contains(b.String(), tc.want) {
				t.Errorf("%s: the plan lacks %s:\n%s", tc.name, tc.want, b.String())
			}
		}
	}
}
