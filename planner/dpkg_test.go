package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestPackages: closure.packages follows Depends and Pre-Depends through
// the installed packages (a virtual one through Provides, the first
// installed alternative, said in a note), lists each package's files but
// not its folders, takes a diverted file where it was diverted to, and
// says what is missing.
func TestPackages(t *testing.T) {
	h := t.TempDir()
	db := filepath.Join(h, "dpkg")
	os.MkdirAll(filepath.Join(db, "info"), 0o755)
	files := filepath.Join(h, "files")
	for _, f := range []string{"app/bin/app", "lib/liba.txt", "lib/libb.txt", "lib/libv.txt", "lib/orig.txt", "lib/orig.txt.distrib", "doc/unused.txt"} {
		os.MkdirAll(filepath.Dir(filepath.Join(files, f)), 0o755)
		os.WriteFile(filepath.Join(files, f), []byte(f+"\n"), 0o755)
	}
	os.WriteFile(filepath.Join(db, "status"), []byte(`Package: app
Status: install ok installed
Architecture: amd64
Pre-Depends: libb
Depends: missing-one | liba (>= 1.0), virt
Description: an app
 with a long description: that has a colon

Package: liba
Status: install ok installed
Architecture: amd64
Multi-Arch: same

Package: libb
Status: install ok installed
Architecture: all

Package: provider
Status: install ok installed
Architecture: amd64
Provides: virt (= 2)

Package: removed
Status: deinstall ok config-files
Architecture: amd64
`), 0o644)
	list := func(name string, paths ...string) {
		var b strings.Builder
		b.WriteString("/.\n")
		for _, p := range paths {
			b.WriteString(filepath.Join(files, p) + "\n")
		}
		os.WriteFile(filepath.Join(db, "info", name+".list"), []byte(b.String()), 0o644)
	}
	list("app", "", "app", "app/bin", "app/bin/app", "doc/gone.txt")
	list("liba:amd64", "lib", "lib/liba.txt")
	list("libb", "lib/libb.txt", "lib/orig.txt")
	list("provider", "lib/libv.txt", "etc/secrets")
	os.MkdirAll(filepath.Join(files, "etc"), 0o755)
	os.WriteFile(filepath.Join(files, "etc", "secrets"), []byte("password\n"), 0o600)
	os.WriteFile(filepath.Join(db, "diversions"), []byte(filepath.Join(files, "lib/orig.txt")+"\n"+filepath.Join(files, "lib/orig.txt.distrib")+"\nsomeone-else\n"), 0o644)
	defer func(d string) { dpkgDir = d }(dpkgDir)
	dpkgDir = db
	text := func(pkgs string) string {
		return `version: 1
environments:
  box:
    rootfs: {closure: {packages: [` + pkgs + `]}}
    namespaces: [mnt, pid]
    processes: [{name: main, command: [` + files + `/app/bin/app]}]
`
	}
	p, err := compileLimits(t, text("app"), rootCaller, "hybrid")
	if err != nil {
		t.Fatal(err)
	}
	var r Rootfs
	for _, st := range p.Environments[0].Steps {
		if op, ok := st.Op.(Rootfs); ok {
			r = op
		}
	}
	var got []string
	for _, f := range r.Data {
		got = append(got, strings.TrimPrefix(f, files+"/"))
	}
	want := "app/bin/app lib/liba.txt lib/libb.txt lib/libv.txt lib/orig.txt.distrib"
	if strings.Join(got, " ") != want {
		t.Errorf("the packages' files: %q, want %q", strings.Join(got, " "), want)
	}
	tree := map[string]bool{}
	for _, f := range r.Files {
		tree[f.Path] = true
	}
	if !tree[files+"/lib/liba.txt"] || tree[files+"/doc/unused.txt"] {
		t.Errorf("the tree: %v", r.Files)
	}
	notes := strings.Join(p.Environments[0].Notes, "\n")
	for _, w := range []string{"4 packages from this host's dpkg database", "not copied, as not everyone may read them on the host (name them in closure.files if the environment needs them): " + files + "/etc/secrets", "app, libb, liba, provider", `app: "missing-one | liba (>= 1.0)", liba (installed)`} {
		if !strings.Contains(notes, w) {
			t.Errorf("no %q in the notes:\n%s", w, notes)
		}
	}
	if _, err := compileLimits(t, text("removed"), rootCaller, "hybrid"); err == nil || !strings.Contains(err.Error(), "closure.packages[0]: package removed is not installed on this host") {
		t.Errorf("a package not installed: %v", err)
	}
	if _, err := spec.ParseBytes("l.yaml", h, []byte(text("Bad_Name"))); err == nil || !strings.Contains(err.Error(), "l.yaml:4:35: environments.box.rootfs.closure.packages[0]: \"Bad_Name\" is not a Debian package name") {
		t.Errorf("a bad name: %v", err)
	}
	dpkgDir = filepath.Join(h, "none")
	if _, err := compileLimits(t, text("app"), rootCaller, "hybrid"); err == nil || !strings.Contains(err.Error(), "this host has no dpkg database") {
		t.Errorf("no dpkg: %v", err)
	}
}
