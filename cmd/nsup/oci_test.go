package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/nsup/nsup/planner/oci"
)

// TestExportImportRoundTrip, through the command line: each exportable
// example is exported (its closure built into DIR/rootfs), imported back
// into YAML, and that YAML exported again (its dir rootfs copied): the two
// config.json are byte-identical, and so are the two root trees.
func TestExportImportRoundTrip(t *testing.T) {
	t.Setenv("NSUP_CACHE_DIR", t.TempDir())
	for _, c := range []struct {
		file, env string
		init      bool // the environment has nsup's init, which export notes
	}{
		{"../../examples/hello.yaml", "hello", true},
		{"../../examples/devbox.yaml", "devbox", true},
		{"../../examples/pod.yaml", "db", true},
		// Every key of security changed, and rlimits: locked's seccomp
		// profile is imported as the config itself.
		{"testdata/oci/security.yaml", "locked", true},
		{"testdata/oci/security.yaml", "open", false},
	} {
		t.Run(c.env, func(t *testing.T) {
			dir := t.TempDir()
			b1, b2 := filepath.Join(dir, "b1"), filepath.Join(dir, "b2")
			code, out, errs := nsup(t, "export", "--oci", b1, c.file, c.env)
			if code != 0 || out != "" {
				t.Fatalf("export: exit %d, stdout %q, stderr:\n%s", code, out, errs)
			}
			if c.init != strings.Contains(errs, c.env+".init: translated: OCI has no init") {
				t.Errorf("export does not say what became of init:\n%s", errs)
			}
			cfg1 := mustRead(t, filepath.Join(b1, "config.json"))
			if err := validateOCI(t, cfg1); err != nil {
				t.Errorf("config.json: %v", err)
			}
			code, y, errs := nsup(t, "import", b1)
			if code != 0 {
				t.Fatalf("import: exit %d: %s", code, errs)
			}
			if errs != "" {
				t.Errorf("importing an exported bundle lost something:\n%s", errs)
			}
			if !strings.HasPrefix(y, "# yaml-language-server: $schema=") || !strings.Contains(y, "dir: "+b1+"/rootfs") {
				t.Errorf("import:\n%s", y)
			}
			// What differs from nsup's defaults comes back as such.
			for _, want := range map[string][]string{
				"locked": {"seccomp: " + b1 + "/config.json", "masked_paths: [/proc/keys, /proc/uptime, /sys/kernel, /etc/profile.json]",
					"capabilities: {drop: [CAP_FSETID, CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_AUDIT_WRITE, CAP_SETFCAP], add: [CAP_NET_ADMIN]}",
					// (/proc/sysrq-trigger, which the spec lists too, is
					// left out of the export by a kernel without it.)
					"readonly_paths: [/proc/bus, /proc/fs, /proc/irq, /proc/sys, ", "/scratch]", "no_new_privileges: false", "rlimits: {core: 0, cpu: unlimited, nofile: 128, nproc: 512, stack: 8388608}"},
				"open": {"seccomp: unconfined", "masked_paths: []", "rlimits: {msgqueue: '409600:819200', nofile: 4096}", "options: [dev]", "options: [nosuid, dev]"},
			}[c.env] {
				if !strings.Contains(y, want) {
					t.Errorf("import lacks %q:\n%s", want, y)
				}
			}
			if strings.Contains(y, "security:") != (c.env == "locked" || c.env == "open") {
				t.Errorf("security: where nsup's defaults are the bundle's:\n%s", y)
			}
			spec2 := filepath.Join(dir, "imported.yaml")
			os.WriteFile(spec2, []byte(y), 0o644)
			if code, _, errs := nsup(t, "export", "--oci", b2, spec2); code != 0 {
				t.Fatalf("export of the imported spec: exit %d:\n%s", code, errs)
			}
			if d := cmp.Diff(string(cfg1), string(mustRead(t, filepath.Join(b2, "config.json")))); d != "" {
				t.Errorf("export → import → export changed config.json (-first +second):\n%s", d)
			}
			t1, t2 := treeListing(t, filepath.Join(b1, "rootfs")), treeListing(t, filepath.Join(b2, "rootfs"))
			if len(t1) < 5 {
				t.Errorf("rootfs holds %d entries", len(t1))
			}
			if d := cmp.Diff(t1, t2); d != "" {
				t.Errorf("the copied rootfs differs from the first (-first +second):\n%s", d)
			}
		})
	}
}

// treeListing is every entry of a tree: path, mode, owner, link target or
// content.
func treeListing(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		sys := st.Sys().(*syscall.Stat_t)
		line := fmt.Sprintf("%s %s %d:%d", rel, st.Mode(), sys.Uid, sys.Gid)
		switch {
		case st.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			line += " -> " + l
		case st.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			line += fmt.Sprintf(" %d bytes %x", len(b), sha256.Sum256(b))
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestExportRefusesJoinByName: pod.yaml's web joins db by name, which a
// bundle cannot say: refused with the key and its line, nothing written.
func TestExportRefusesJoinByName(t *testing.T) {
	t.Setenv("NSUP_CACHE_DIR", t.TempDir())
	dir := filepath.Join(t.TempDir(), "web")
	code, out, errs := nsup(t, "export", "--oci", dir, "../../examples/pod.yaml", "web")
	if code != 2 || out != "" {
		t.Errorf("exit %d, stdout %q", code, out)
	}
	// The line of web's `join: {net: db, ipc: db}`, wherever it is.
	src, err := os.ReadFile("../../examples/pod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	line := 0
	for i, l := range strings.Split(string(src), "\n") {
		if strings.TrimSpace(l) == "join: {net: db, ipc: db}" {
			line = i + 1
		}
	}
	if line == 0 {
		t.Fatal("pod.yaml has no `join: {net: db, ipc: db}` line")
	}
	for _, want := range []string{
		fmt.Sprintf("../../examples/pod.yaml:%d:17: environments.web.join.net: refused:", line),
		fmt.Sprintf("../../examples/pod.yaml:%d:26: environments.web.join.ipc: refused:", line),
		"no bundle written",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("a refused export made its folder")
	}
}

func TestExportUsage(t *testing.T) {
	t.Setenv("NSUP_CACHE_DIR", t.TempDir())
	dir := t.TempDir()
	for _, args := range [][]string{
		{"export", "../../examples/hello.yaml"},                                // no --oci
		{"export", "--oci", dir + "/x", "../../examples/pod.yaml"},             // two environments, none named
		{"export", "--oci", dir + "/x", "../../examples/hello.yaml", "a", "b"}, // too many
		{"import"},
	} {
		if code, out, _ := nsup(t, args...); code != 2 || out != "" {
			t.Errorf("nsup %q: exit %d, want 2 (stdout %q)", args, code, out)
		}
	}
	// A non-empty folder is never written into.
	os.WriteFile(filepath.Join(dir, "keep"), []byte("x"), 0o644)
	if code, _, errs := nsup(t, "export", "--oci", dir, "../../examples/hello.yaml"); code != 1 || !strings.Contains(errs, "not empty") {
		t.Errorf("export into a non-empty folder: exit %d: %s", code, errs)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("the folder now holds %d entries", len(ents))
	}
}

// TestExportTar: a tar rootfs is exported as the tree apply would unpack;
// while nsup cannot unpack archives (issue 5), export says so and writes
// nothing.
func TestExportTar(t *testing.T) {
	t.Setenv("NSUP_CACHE_DIR", t.TempDir())
	dir := t.TempDir()
	sh, err := os.ReadFile("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "bin/sh", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(sh))})
	tw.Write(sh)
	tw.Close()
	os.WriteFile(filepath.Join(dir, "root.tar"), b.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "t.yaml"), []byte(`version: 1
environments:
  t:
    rootfs: {tar: root.tar}
    namespaces: [mnt, pid]
    processes:
      - {name: main, command: [/bin/sh]}
`), 0o644)
	bundle := filepath.Join(dir, "bundle")
	code, _, errs := nsup(t, "export", "--oci", bundle, filepath.Join(dir, "t.yaml"))
	if code == 0 {
		if _, err := os.Stat(filepath.Join(bundle, "rootfs", "bin", "sh")); err != nil {
			t.Errorf("exported a tar rootfs without its files: %v", err)
		}
		return
	}
	if code != 1 || !strings.Contains(errs, "rootfs.tar") || !strings.Contains(errs, "not supported") {
		t.Errorf("export of a tar rootfs: exit %d: %s", code, errs)
	}
	if _, err := os.Stat(bundle); err == nil {
		t.Error("a failed export left its folder")
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	ociSchemaOnce sync.Once
	ociSchema     *jsonschema.Schema
	ociSchemaErr  error
)

// validateOCI checks a config.json against the JSON Schema runtime-spec
// ships (planner/oci's tests do the same for every golden bundle).
func validateOCI(t *testing.T, js []byte) error {
	t.Helper()
	ociSchemaOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/opencontainers/runtime-spec").Output()
		if err != nil {
			ociSchemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft4)
		c.UseLoader(refFixLoader{})
		ociSchema, ociSchemaErr = c.Compile(filepath.Join(strings.TrimSpace(string(out)), "schema", "config-schema.json"))
	})
	if ociSchemaErr != nil {
		t.Fatal(ociSchemaErr)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return err
	}
	return ociSchema.Validate(inst)
}

// refFixLoader reads runtime-spec's schema, whose "#definitions/X" refs
// are read as the JSON pointer "#/definitions/X" (planner/oci's tests say
// why).
type refFixLoader struct{}

func (refFixLoader) Load(url string) (any, error) {
	f, err := jsonschema.FileLoader{}.ToFile(url)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(bytes.ReplaceAll(b, []byte(`#definitions/`), []byte(`#/definitions/`))))
}

// TestCopyTree: a dir rootfs is copied with its modes (setuid included),
// owners (as root), symlinks (not followed), hard links, fifos and device
// nodes.
func TestCopyTree(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "bin"), 0o755))
	must(os.WriteFile(filepath.Join(src, "bin", "tool"), []byte("#!/bin/sh\n"), 0o755))
	must(os.Chmod(filepath.Join(src, "bin", "tool"), 0o4755|fs.ModeSetuid))
	must(os.Link(filepath.Join(src, "bin", "tool"), filepath.Join(src, "bin", "alias")))
	must(os.Symlink("/etc/passwd", filepath.Join(src, "bin", "out")))
	must(os.Mkdir(filepath.Join(src, "private"), 0o700))
	must(os.WriteFile(filepath.Join(src, "private", "key"), []byte("k"), 0o600))
	must(syscall.Mkfifo(filepath.Join(src, "fifo"), 0o644))
	if os.Geteuid() == 0 {
		must(os.Mkdir(filepath.Join(src, "dev"), 0o755))
		must(syscall.Mknod(filepath.Join(src, "dev", "null"), syscall.S_IFCHR|0o666, 1<<8|3))
		must(os.Lchown(filepath.Join(src, "private", "key"), 1234, 5678))
	}
	must(os.Chmod(src, 0o751))
	if err := copyTree(src, dst); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(treeListing(t, src), treeListing(t, dst)); d != "" {
		t.Errorf("copy differs (-src +dst):\n%s", d)
	}
	a, _ := os.Stat(filepath.Join(dst, "bin", "tool"))
	b, _ := os.Stat(filepath.Join(dst, "bin", "alias"))
	if !os.SameFile(a, b) {
		t.Error("hard link not kept")
	}
	if a.Mode()&fs.ModeSetuid == 0 {
		t.Error("setuid bit lost")
	}
	if os.Geteuid() == 0 {
		var st syscall.Stat_t
		must(syscall.Lstat(filepath.Join(dst, "dev", "null"), &st))
		if st.Mode&syscall.S_IFMT != syscall.S_IFCHR || st.Rdev != 1<<8|3 {
			t.Errorf("dev/null: mode %o rdev %d", st.Mode, st.Rdev)
		}
	}
}

// What import prints of a bundle's or a manifest's strings reaches the
// caller's terminal without its control characters and bidirectional
// overrides (helper-82's review: a config.json whose mount destination
// held escape sequences had them written raw with the refused
// translation, setting the terminal's title and erasing its screen; a
// carriage return or U+202E in a note rewrote what the note showed).
func TestImportPrintable(t *testing.T) {
	dir := t.TempDir()
	bundle := func(name, dst string) string {
		b := filepath.Join(dir, name)
		os.MkdirAll(filepath.Join(b, "rootfs"), 0o755)
		js, _ := json.Marshal(dst)
		cfg := `{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["/bin/sh"],"cwd":"/"},` +
			`"mounts":[{"destination":` + string(js) + `,"type":"tmpfs","source":"tmpfs","options":["weird"]}]}`
		os.WriteFile(filepath.Join(b, "config.json"), []byte(cfg), 0o644)
		return b
	}
	raw := func(s string) bool { return strings.ContainsAny(s, "\x1b\x07\r\u202e") }
	// The spec is written with them escaped (yamlnode.Encode), which
	// makes it a valid one: it was refused, its raw controls no YAML.
	code, out, errs := nsup(t, "import", bundle("esc", "/x\x1b]0;title\x07\x1b[2J"))
	if code != 0 || raw(errs) || raw(out) || !strings.Contains(out, `target: "/x\e]0;title\a\e[2J"`) {
		t.Errorf("import of a bundle with escape sequences: exit %d, raw control characters printed: %q %q", code, out, errs)
	}
	code, _, errs = nsup(t, "import", bundle("cr", "/x\rnothing to see\u202e"))
	if code != 0 || raw(errs) || !strings.Contains(errs, "tmpfs on /x?nothing to see?") {
		t.Errorf("import of a bundle with a carriage return: exit %d, stderr %q", code, errs)
	}
	kube := filepath.Join(dir, "pod.yaml")
	os.WriteFile(kube, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  volumes:\n  - name: v\n    hostPath: {path: \"/srv/x\\rnothing\"}\n"+
		"  containers:\n  - name: c\n    image: busybox\n    command: [sleep, '1']\n    volumeMounts: [{name: v, mountPath: /v}]\n"), 0o644)
	code, _, errs = nsup(t, "import", "--kube", kube)
	if code != 0 || raw(errs) || !strings.Contains(errs, "the host's /srv/x?nothing is bound") {
		t.Errorf("import --kube of a hostPath with a carriage return: exit %d, stderr %q", code, errs)
	}
}

// nsup import reads at most oci.MaxConfig bytes of a config.json (it read
// up to 256 MiB, about 8 GB once decoded: helper-82's review).
func TestImportConfigBounded(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "rootfs"), 0o755)
	cfg := `{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["/bin/sh"]}}`
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg+strings.Repeat(" ", oci.MaxConfig)), 0o644)
	if code, out, errs := nsup(t, "import", dir); code != 2 || out != "" || !strings.Contains(errs, "larger than") {
		t.Errorf("import of a config.json of %d bytes: exit %d, stdout %d bytes, stderr %q", len(cfg)+oci.MaxConfig, code, len(out), errs)
	}
}
