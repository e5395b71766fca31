package planner

import (
	"archive/tar"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestWorkdirMissing: a working directory the root lacks is made in an
// overlaid root's upper layer (a MakeCwd step, before the root switch),
// and refused where nsup would have to write a host folder for it (a dir
// root without overlay: true, a host folder bound above it). Before,
// every case planned, and apply failed at the process's chdir.
func TestWorkdirMissing(t *testing.T) {
	dir := t.TempDir()
	archive := writeTar(t, dir, "root.tar", tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755}, tar.Header{Name: "bin/sh", Typeflag: tar.TypeReg, Mode: 0o755})
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "there"), 0o755)
	os.WriteFile(filepath.Join(src, "f"), nil, 0o644)
	// A merged-/usr root: lib64 -> usr/lib64.
	linked := filepath.Join(dir, "linked")
	os.MkdirAll(filepath.Join(linked, "usr", "lib64"), 0o755)
	os.Symlink("usr/lib64", filepath.Join(linked, "lib64"))
	os.MkdirAll(filepath.Join(linked, "bin"), 0o755)
	os.WriteFile(filepath.Join(linked, "bin", "sh"), []byte("#!"), 0o755)
	volumes := filepath.Join(dir, "volumes")
	os.Mkdir(volumes, 0o700)
	const head = "version: 1\nenvironments:\n  e:\n    namespaces: [mnt, pid]\n"
	for _, c := range []struct {
		name, env string
		made      []string // MakeCwd steps' paths, in order
		err       string   // the one error, "" for none
		export    bool     // planned for nsup export
	}{
		{name: "tar", env: "    rootfs: {tar: " + archive + "}\n    cwd: /work/sub\n",
			made: []string{"/work/sub"}},
		{name: "tar processes", env: "    rootfs: {tar: " + archive + "}\n    cwd: /w\n    processes:\n      - {name: main, command: [/bin/sh], cwd: /p, children: [{name: c, command: [/bin/sh], cwd: /w}]}\n",
			made: []string{"/p", "/w"}}, // the environment's in no chdir: the child's
		{name: "tar below a tmpfs", env: "    rootfs: {tar: " + archive + "}\n    cwd: /tmp/x\n    mounts: [{type: tmpfs, target: /tmp}]\n",
			made: []string{"/tmp/x below /tmp"}},
		{name: "dir below a tmpfs", env: "    rootfs: {dir: ./rootfs}\n    cwd: /tmp/x\n    mounts: [{type: tmpfs, target: /tmp}]\n",
			made: []string{"/tmp/x below /tmp"}},
		{name: "tmpfs itself", env: "    rootfs: {dir: ./rootfs}\n    cwd: /tmp\n    mounts: [{type: tmpfs, target: /tmp}]\n"},
		{name: "below a volume", env: "    rootfs: {dir: ./rootfs}\n    cwd: /build/out\n    mounts: [{type: volume, source: build, target: /build}]\n",
			made: []string{"/build/out below /build"}},
		{name: "below a created bind", env: "    rootfs: {dir: ./rootfs}\n    cwd: /out/x\n    mounts: [{type: bind, source: " + filepath.Join(dir, "new") + ", target: /out, create: true}]\n",
			made: []string{"/out/x below /out"}},
		{name: "below proc", env: "    rootfs: {dir: ./rootfs}\n    cwd: /proc/nope\n    mounts: [{type: proc, target: /proc}]\n"},
		{name: "tar root itself", env: "    rootfs: {tar: " + archive + "}\n    cwd: /\n"},
		{name: "overlay missing", env: "    rootfs: {dir: ./rootfs, overlay: true}\n    cwd: /work\n", made: []string{"/work"}},
		{name: "overlay there", env: "    rootfs: {dir: ./rootfs, overlay: true}\n    cwd: /bin\n"},
		{name: "dir missing", env: "    rootfs: {dir: ./rootfs}\n    cwd: /work/sub\n",
			err: "t.yaml:6:10: environments.e.cwd: /work/sub is not in the dir root %[1]s/rootfs: the process's chdir would fail, and nsup does not write the root's folder for it; make %[1]s/rootfs/work/sub, say overlay: true (nsup makes it in the upper layer), or give another cwd"},
		{name: "dir there", env: "    rootfs: {dir: ./rootfs}\n    cwd: /bin\n"},
		// A file on the way: apply's chdir failed (ENOTDIR) before.
		{name: "through a file", env: "    rootfs: {dir: ./rootfs}\n    cwd: /bin/sh/x\n",
			err: "t.yaml:6:10: environments.e.cwd: /bin/sh/x passes through /bin/sh, which is no folder (a file) in the environment's tree: the process's chdir would fail (not a directory); give another cwd"},
		{name: "a file", env: "    rootfs: {tar: " + archive + "}\n    cwd: /src/f\n    mounts: [{type: bind, source: " + src + ", target: /src}]\n",
			err: "t.yaml:6:10: environments.e.cwd: /src/f passes through /src/f, which is no folder (a file)"},
		{name: "closure", env: "    rootfs: {closure: [/bin/sh]}\n    cwd: /work\n"},
		{name: "closure below a tmpfs", env: "    rootfs: {closure: [/bin/sh]}\n    cwd: /tmp/x\n    mounts: [{type: tmpfs, target: /tmp}]\n",
			made: []string{"/tmp/x below /tmp"}},
		{name: "closure through a file", env: "    rootfs: {closure: [/bin/sh]}\n    cwd: /bin/sh/x\n",
			err: "t.yaml:6:10: environments.e.cwd: /bin/sh/x passes through /bin/sh, which is no folder (a file)"},
		{name: "dir process missing", env: "    rootfs: {dir: ./rootfs}\n    processes:\n      - {name: main, command: [/bin/sh], cwd: /nope}\n",
			err: "t.yaml:7:47: environments.e.processes[0].cwd: /nope is not in the dir root %[1]s/rootfs"},
		{name: "bind missing", env: "    rootfs: {dir: ./rootfs}\n    cwd: /src/gone\n    mounts: [{type: bind, source: " + src + ", target: /src}]\n",
			err: "t.yaml:6:10: environments.e.cwd: /src/gone is not in " + src + ", the host folder bound at /src (environments.e.mounts[0]): the process's chdir would fail; make " + src + "/gone there, or give another cwd"},
		{name: "bind there", env: "    rootfs: {tar: " + archive + "}\n    cwd: /src/there\n    mounts: [{type: bind, source: " + src + ", target: /src}]\n"},
		// helper-132's review: a folder create: true binds that is there
		// already is the host's; a read-only mount, or the folder
		// create: true makes for root inside on another uid, is one
		// MakeCwd cannot write (the plan showed it, apply failed).
		{name: "created bind there", env: "    rootfs: {dir: ./rootfs}\n    cwd: /src/gone\n    mounts: [{type: bind, source: " + src + ", target: /src, create: true}]\n",
			err: "t.yaml:6:10: environments.e.cwd: /src/gone is not in " + src + ", the host folder bound at /src (environments.e.mounts[0]): the process's chdir would fail; make " + src + "/gone there"},
		{name: "read-only tmpfs", env: "    rootfs: {tar: " + archive + "}\n    cwd: /tmp/x\n    mounts: [{type: tmpfs, target: /tmp, readonly: true}]\n",
			err: "t.yaml:6:10: environments.e.cwd: /tmp/x is not in the read-only tmpfs at /tmp (environments.e.mounts[0]): the step that makes the working directory would fail (read-only file system); drop readonly: true, or give another cwd"},
		{name: "read-only volume", env: "    rootfs: {dir: ./rootfs}\n    cwd: /build/out\n    mounts: [{type: volume, source: build, target: /build, readonly: true}]\n",
			err: "t.yaml:7:10: environments.e.cwd: /build/out is not in the read-only volume at /build (environments.e.mounts[0]): the step that makes the working directory would fail (read-only file system); make " + volumes},
		{name: "created bind mapped", env: "    rootfs: {tar: " + archive + "}\n    namespaces: [user, mnt, pid]\n    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}\n    cwd: /out/x\n    mounts: [{type: bind, source: " + filepath.Join(dir, "new") + ", target: /out, create: true}]\n",
			err: "environments.e.cwd: /out/x is below the bind at /out (environments.e.mounts[0]), whose host folder " + filepath.Join(dir, "new") + " apply makes (create: true) 0755"},
		// Made by a mount's "target if missing" (a refusal once, of a spec
		// that applied before MakeCwd: helper-132's review).
		{name: "made by a mount target", env: "    rootfs: {dir: ./rootfs}\n    cwd: /newp\n    mounts: [{type: tmpfs, target: /newp/mnt}]\n"},
		// helper-136's review: a mount whose target lands through a
		// link (/lib64 -> usr/lib64) makes, or holds, the cwd by the
		// path it lands at. The first was refused (it applied before
		// MakeCwd), the second refused with a way out that did not work
		// (make the folder the tmpfs covers), and planned in an
		// overlaid root a MakeCwd that crossed the tmpfs (EXDEV).
		{name: "made by a linked mount target", env: "    rootfs: {dir: " + linked + "}\n    cwd: /usr/lib64/newp\n    mounts: [{type: tmpfs, target: /lib64/newp/mnt}]\n"},
		{name: "below a linked tmpfs", env: "    rootfs: {dir: " + linked + "}\n    cwd: /usr/lib64/t/x\n    mounts: [{type: tmpfs, target: /lib64/t}]\n",
			made: []string{"/lib64/t/x below /lib64/t"}},
		{name: "overlay below a linked tmpfs", env: "    rootfs: {dir: " + linked + ", overlay: true}\n    cwd: /usr/lib64/t/x\n    mounts: [{type: tmpfs, target: /lib64/t}]\n",
			made: []string{"/lib64/t/x below /lib64/t"}},
		// An OCI runtime makes a missing cwd, in a bound host folder
		// too: refused, an export that ran before MakeCwd.
		{name: "export bind missing", export: true, env: "    rootfs: {dir: ./rootfs}\n    cwd: /src/gone\n    mounts: [{type: bind, source: " + src + ", target: /src}]\n"},
		// An environment's cwd every process overrides is in no chdir:
		// refused, a spec that applied before (helper-136's review).
		{name: "dir unused", env: "    rootfs: {dir: ./rootfs}\n    cwd: /nope\n    processes:\n      - {name: main, command: [/bin/sh], cwd: /bin, children: [{name: c, command: [/bin/sh], cwd: /}]}\n"},
		{name: "dir used by a child", env: "    rootfs: {dir: ./rootfs}\n    cwd: /nope\n    processes:\n      - {name: main, command: [/bin/sh], cwd: /bin, children: [{name: c, command: [/bin/sh]}]}\n",
			err: "t.yaml:6:10: environments.e.cwd: /nope is not in the dir root"},
		{name: "tar bind missing", env: "    rootfs: {tar: " + archive + "}\n    cwd: /src/gone\n    mounts: [{type: bind, source: " + src + ", target: /src}]\n",
			err: "t.yaml:6:10: environments.e.cwd: /src/gone is not in " + src + ", the host folder bound at /src"},
	} {
		t.Run(c.name, func(t *testing.T) {
			yaml := head + c.env
			if strings.Contains(c.env, "    namespaces:") {
				yaml = strings.Replace(head, "    namespaces: [mnt, pid]\n", "", 1) + c.env
			}
			if strings.Contains(c.env, "type: volume") {
				yaml = "volumes: {build: null}\n" + yaml
			}
			if !strings.Contains(c.env, "processes:") {
				yaml += "    processes:\n      - {name: main, command: [/bin/sh]}\n"
			}
			p, err := compileText(t, yaml, Options{CacheDir: "/var/cache/nsup", VolumeDir: volumes, FolderStat: folderStat, Export: c.export})
			if c.err != "" {
				if err == nil {
					t.Fatalf("planned; want %s", c.err)
				}
				// compileText's folder: the rootfs's parent.
				want := c.err
				if strings.Contains(want, "%[1]s") {
					want = fmt.Sprintf(want, rootfsParent(err.Error()))
				}
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("got %v\nwant %s", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var made []string
			held := map[string]bool{}
			for _, st := range ops(p, "e") {
				if m, ok := st.Op.(Mount); ok && m.InRoot && m.Beneath == "" {
					held[m.Target] = m.Held
				}
				if op, ok := st.Op.(MakeCwd); ok {
					// Below: beneath the mount's held fd, not by its
					// path again (helper-132's review).
					if op.Below != "" && !held[op.Below] {
						t.Errorf("%s: the mount at %s is not held", FormatOp(op), op.Below)
					}
					if st.Stage != Child || op.Root != p.Environments[0].Steps[rootfsStep(p)].Op.(Rootfs).Path {
						t.Errorf("%s in stage %s", FormatOp(op), st.Stage)
					}
					if op.Below != "" {
						op.Path += " below " + op.Below
					}
					made = append(made, op.Path)
				}
			}
			if strings.Join(made, " ") != strings.Join(c.made, " ") {
				t.Errorf("made %q, want %q", made, c.made)
			}
		})
	}
}

// rootfsParent is the folder compileText made, read back from an error
// that names its rootfs ("... the dir root DIR/rootfs...").
func rootfsParent(msg string) string {
	i := strings.Index(msg, "/rootfs")
	j := strings.LastIndex(msg[:i], " ")
	return msg[j+1 : i]
}

// rootfsStep is the index of the plan's first environment's Rootfs step.
func rootfsStep(p *Plan) int {
	for i, st := range p.Environments[0].Steps {
		if _, ok := st.Op.(Rootfs); ok {
			return i
		}
	}
	return -1
}

// TestCwdThroughClosureLink: in a closure root (/bin -> usr/bin), a cwd
// that is a file where the tree's links lead it, or passes through one,
// or is a file nsup generates in its tree, is refused. Before
// helper-151's trial /bin/sh and /bin/sh/sub planned (apply: chdir: not
// a directory), and /etc/passwd made a folder of nsup's /etc/passwd,
// which was then not generated.
func TestCwdThroughClosureLink(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ cwd, err string }{
		{"/bin/sh", "t.yaml:6:10: environments.c.cwd: /bin/sh passes through /usr/bin/sh where the tree's links lead it, which is no folder (a file) in the environment's tree: the process's chdir would fail (not a directory); give another cwd"},
		{"/bin/sh/sub", "environments.c.cwd: /bin/sh/sub passes through /usr/bin/sh where the tree's links lead it, which is no folder (a file)"},
		{"/usr/bin/sh/sub", "environments.c.cwd: /usr/bin/sh/sub passes through /usr/bin/sh, which is no folder (a file)"},
		{"/etc/passwd", "t.yaml:6:10: environments.c.cwd: /etc/passwd is /etc/passwd, a file nsup generates in the environment's tree (its folder there would leave the file out): the process's chdir would fail (not a directory); give another cwd"},
		{"/etc/hosts/x", "environments.c.cwd: /etc/hosts/x lies below /etc/hosts, a file nsup generates"},
		{"/bin/work", ""},
		{"/etc", ""},
	} {
		t.Run(c.cwd, func(t *testing.T) {
			s, err := spec.ParseBytes("t.yaml", dir, []byte(`version: 1
environments:
  c:
    rootfs: {closure: [/usr/bin/sh]}
    namespaces: [mnt, pid]
    cwd: `+c.cwd+`
    processes:
      - {name: main, command: [/bin/sh]}
`))
			if err != nil {
				t.Fatal(err)
			}
			opts := fixedOptions(Options{Caller: &rootCaller, CacheDir: t.TempDir()})
			opts.Closure = binClosure()
			_, err = Compile(s, opts)
			switch {
			case c.err == "" && err != nil:
				t.Fatal(err)
			case c.err != "" && err == nil:
				t.Fatalf("planned; want %s", c.err)
			case c.err != "" && !strings.Contains(err.Error(), c.err):
				t.Fatalf("got %v\nwant %s", err, c.err)
			}
		})
	}
}
