package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The boundaries between nsup's packages, as their doc.go files (and
// README.md's Layout table) state them, checked against the source of
// every non-test file of the module, whatever its build constraints (so
// that another GOARCH's files are checked too). Test files may use more
// (executor's tests compile real specs, the root tests print), so only
// the packages' own files are read; testdata is not part of the module's
// packages (cmd/nsup/testdata/ociprobe is a program run inside an
// environment).

const module = "github.com/nsup/nsup"

// boundaries is what each package may import of the module; nil for
// cmd/nsup, which imports all. A package missing here fails the test:
// its doc.go should say what it imports, and this table too.
var boundaries = map[string][]string{
	// The first part of spec → plan → apply: nothing of nsup's but the
	// opening of regular files only (spec/doc.go).
	"spec": {"internal/regfile"},
	// Compiles a spec into a plan (planner/doc.go), resolving the seccomp
	// profile (planning too: planner/seccomp/doc.go), and showing names
	// escaped (internal/textsafe).
	"planner": {"spec", "planner/seccomp", "planner/cgroup", "internal/regfile", "internal/owndir", "internal/textsafe"},
	// Opens regular files only, and checks a folder is the caller's alone
	// (their docs): nothing of nsup's.
	"internal/regfile": {},
	"internal/owndir":  {},
	// Which runes mislead a reader of text nsup did not choose (its doc).
	"internal/textsafe": {},
	// Where the limits go on this host (planner/cgroup/doc.go).
	"planner/cgroup":  {},
	"planner/seccomp": {},
	// go generate's command for zsyscalls.go (planner/seccomp/doc.go).
	"planner/seccomp/internal/gen": {},
	// go generate's command for zdefault.go, which compiles Docker's
	// profile for planner's default capabilities (planner/seccomp/doc.go).
	"planner/seccomp/internal/gendefault": {"planner", "planner/seccomp"},
	// The spec's keys, the plan's values, and Docker's default profile
	// (planner/oci/doc.go).
	"planner/oci": {"spec", "planner", "planner/seccomp", "planner/cgroup", "planner/yamlnode", "planner/exportnote"},
	// YAML nodes of the specs and manifests nsup writes (its doc).
	"planner/yamlnode": {"internal/textsafe"},
	// What planner/oci's and planner/kube's exports say alike: refusals
	// of nsup's caller's values (its doc).
	"planner/exportnote": {"spec"},
	// executor/doc.go: "Both import only planner; this package imports
	// them." executor/store/doc.go and executor/lifecycle/doc.go: "It
	// imports planner ... and nothing else of nsup's".
	"executor":           {"planner", "executor/store", "executor/lifecycle", "internal/owndir"},
	"executor/store":     {"planner", "internal/fserr"},
	"executor/lifecycle": {"planner", "planner/cgroup", "internal/owndir", "internal/textsafe"},
	// Kubernetes manifests of a spec, and back (planner/kube/doc.go).
	"planner/kube": {"spec", "planner", "planner/yamlnode", "planner/exportnote"},
	// Writes an OCI image of a tree and a config, quoting the tree's
	// names in errors (image/doc.go).
	"image": {"internal/fserr"},
	// Quotes file names in errors (its doc): nothing of nsup's.
	"internal/fserr": {},
	// A hello-world for scripts/bench.sh: nothing of nsup's.
	"scripts/hellodeps": {},
	// The interleaved timer of scripts/bench.sh: nothing of nsup's.
	"scripts/interleave": {},
	// The tests' golden files, compared or rewritten: nothing of nsup's.
	"internal/golden": {},
	// The JSON Schema, tested (only its tests import spec).
	"schema":   {},
	"cmd/nsup": nil,
}

// tools are the commands of the module that are not nsup: they run apart
// from it (never linked into it: a main package cannot be imported), and
// may print, exit and parse flags as commands do.
var tools = map[string]string{
	"planner/seccomp/internal/gen":        "go generate's command, which writes zsyscalls.go (planner/seccomp/doc.go)",
	"planner/seccomp/internal/gendefault": "go generate's command, which writes zdefault.go (planner/seccomp/doc.go)",
	"scripts/hellodeps":                   "a hello-world with nsup's fixed dependencies, which scripts/bench.sh times",
	"scripts/interleave":                  "the timer of scripts/bench.sh that runs commands in turn",
}

// srcPkg is one package of the module, read from its source.
type srcPkg struct {
	path  string // relative to the module: "executor/store"
	name  string
	fset  *token.FileSet
	files []*ast.File // every non-test file
}

// loadModule parses every non-test file of every package of the module.
func loadModule(t *testing.T) map[string]*srcPkg {
	t.Helper()
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	pkgs := map[string]*srcPkg{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p == root {
				return nil
			}
			if name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir // another module
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		pkg := pkgs[rel]
		if pkg == nil {
			pkg = &srcPkg{path: rel, name: f.Name.Name, fset: fset}
			pkgs[rel] = pkg
		}
		if f.Name.Name != pkg.name {
			t.Errorf("%s: package %s in %s, whose package is %s", fset.Position(f.Package), f.Name.Name, rel, pkg.name)
		}
		pkg.files = append(pkg.files, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < len(boundaries)/2 {
		t.Fatalf("found %d packages in %s: not the module's root?", len(pkgs), root)
	}
	return pkgs
}

// sortedPaths are the packages' paths in order, for stable messages.
func sortedPaths(pkgs map[string]*srcPkg) []string {
	var out []string
	for p := range pkgs {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// imports maps the names a file refers to its imports by to their paths.
func imports(f *ast.File) map[string]string {
	m := map[string]string{}
	for _, s := range f.Imports {
		p, _ := strconv.Unquote(s.Path.Value)
		name := path.Base(p)
		if s.Name != nil {
			name = s.Name.Name
		}
		m[name] = p
	}
	return m
}

// TestPackageBoundaries checks the import graph against boundaries, and
// that only cmd/nsup (and the tools) parse flags.
func TestPackageBoundaries(t *testing.T) {
	pkgs := loadModule(t)
	for _, p := range sortedPaths(pkgs) {
		pkg := pkgs[p]
		allowed, known := boundaries[p]
		if !known {
			t.Errorf("package %s is not in boundaries: say in its doc.go what it imports of nsup, and add it there", p)
			continue
		}
		if pkg.name == "main" && p != "cmd/nsup" && tools[p] == "" {
			t.Errorf("package %s is a command: only cmd/nsup is nsup; another is a tool (tools)", p)
		}
		for _, f := range pkg.files {
			for _, s := range f.Imports {
				imp, _ := strconv.Unquote(s.Path.Value)
				at := pkg.fset.Position(s.Pos())
				switch {
				case p == "cmd/nsup":
				case imp == module || strings.HasPrefix(imp, module+"/"):
					name := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
					if !slices.Contains(allowed, name) {
						t.Errorf("%s: package %s imports %s: its doc.go allows only %v", at, p, name, allowed)
					}
				case (imp == "flag" || imp == "github.com/spf13/pflag") && tools[p] == "":
					t.Errorf("%s: package %s parses flags: only cmd/nsup does", at, p)
				}
			}
		}
	}
	for p := range boundaries {
		if pkgs[p] == nil {
			t.Errorf("boundaries names %s, which has no source any more", p)
		}
	}
	// The OCI translation is pure (planner/oci/doc.go: "they read and
	// write no file"): cmd/nsup copies the rootfs and writes config.json.
	if pkg := pkgs["planner/oci"]; pkg != nil {
		for _, f := range pkg.files {
			for _, s := range f.Imports {
				switch imp, _ := strconv.Unquote(s.Path.Value); imp {
				case "os", "os/exec", "io/ioutil", "syscall":
					t.Errorf("%s: planner/oci imports %s: it translates, cmd/nsup does the files", pkg.fset.Position(s.Pos()), imp)
				}
			}
		}
	}
}

// use is a print or an exit in the source.
type use struct {
	pos token.Pos
	// fn is the top-level function it is in ("Func", "Type.Method"); ""
	// at package level.
	fn string
	// nosplit: fn has //go:nosplit, which executor's raw programs have:
	// they run in a clone of nsup before its execve, without a Go runtime.
	nosplit bool
	// atInit: in a package-level variable's initializer or func init,
	// which run once before main, whatever the input.
	atInit bool
	what   string // "os.Exit", "fmt.Println", "panic", ...
	does   string // "prints", "exits" or "logs"
}

// printOrExit says what a package-level name of an imported package does,
// if it prints or exits.
func printOrExit(pkg, name string) string {
	switch pkg {
	case "os":
		switch name {
		case "Exit":
			return "exits"
		case "Stdout", "Stderr":
			return "prints"
		}
	case "syscall", "golang.org/x/sys/unix":
		switch name {
		case "Exit", "SYS_EXIT", "SYS_EXIT_GROUP":
			return "exits"
		case "Stdout", "Stderr":
			return "prints"
		}
	case "fmt":
		switch name {
		case "Print", "Printf", "Println":
			return "prints"
		}
	case "runtime":
		if name == "Goexit" {
			return "exits"
		}
	case "log", "log/slog":
		if strings.HasPrefix(name, "Fatal") || strings.HasPrefix(name, "Panic") {
			return "exits"
		}
		return "logs"
	}
	return ""
}

// funcName is "Func" or "Type.Method".
func funcName(d *ast.FuncDecl) string {
	if d.Recv == nil || len(d.Recv.List) == 0 {
		return d.Name.Name
	}
	t := d.Recv.List[0].Type
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
			continue
		case *ast.IndexExpr:
			t = x.X
			continue
		case *ast.IndexListExpr:
			t = x.X
			continue
		case *ast.Ident:
			return x.Name + "." + d.Name.Name
		}
		return d.Name.Name
	}
}

// printsAndExits lists what in f prints (to the process's stdout or
// stderr, by name or by fd number), logs, or ends the process: os.Exit,
// log.Fatal*, log.Panic*, runtime.Goexit, exit(2) by number, and a panic
// outside the package's initialization (a panic there is an assertion on
// the program's own tables, which every run meets before anything else).
// declared are the package's own top-level names (a func print of its
// own is not the builtin).
func printsAndExits(f *ast.File, declared map[string]bool) []use {
	imp := imports(f)
	var out []use
	for _, s := range f.Imports {
		if p, _ := strconv.Unquote(s.Path.Value); p == "log" || p == "log/slog" {
			out = append(out, use{pos: s.Pos(), what: "import " + p, does: "logs"})
		}
	}
	for _, d := range f.Decls {
		ctx := use{}
		switch d := d.(type) {
		case *ast.FuncDecl:
			ctx.fn = funcName(d)
			ctx.atInit = d.Recv == nil && d.Name.Name == "init"
			if d.Doc != nil {
				for _, c := range d.Doc.List {
					ctx.nosplit = ctx.nosplit || strings.TrimSpace(c.Text) == "//go:nosplit"
				}
			}
		case *ast.GenDecl:
			ctx.atInit = d.Tok == token.VAR
		}
		add := func(pos token.Pos, what, does string) {
			u := ctx
			u.pos, u.what, u.does = pos, what, does
			out = append(out, u)
		}
		// pkgName is the import path x refers to, or "".
		pkgName := func(x ast.Expr) string {
			id, ok := x.(*ast.Ident)
			if !ok || id.Obj != nil { // a local name, not a package
				return ""
			}
			return imp[id.Name]
		}
		ast.Inspect(d, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if p := pkgName(n.X); p != "" {
					if does := printOrExit(p, n.Sel.Name); does != "" {
						add(n.Pos(), path.Base(p)+"."+n.Sel.Name, does)
					}
				}
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok && id.Obj == nil && !declared[id.Name] {
					switch id.Name {
					case "print", "println":
						add(n.Pos(), id.Name, "prints")
					case "panic":
						if !ctx.atInit {
							add(n.Pos(), id.Name, "exits")
						}
					}
				}
				// fds 1 and 2 by number: os.NewFile(1, ...), unix.Write(2, ...).
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok || len(n.Args) == 0 {
					break
				}
				p := pkgName(sel.X)
				if !(p == "os" && sel.Sel.Name == "NewFile") && !((p == "syscall" || p == "golang.org/x/sys/unix") && sel.Sel.Name == "Write") {
					break
				}
				if lit, ok := n.Args[0].(*ast.BasicLit); ok && (lit.Value == "1" || lit.Value == "2") {
					add(n.Pos(), path.Base(p)+"."+sel.Sel.Name+"("+lit.Value+")", "prints")
				}
			}
			return true
		})
	}
	return out
}

// declaredNames are the top-level names a package declares.
func declaredNames(pkg *srcPkg) map[string]bool {
	m := map[string]bool{}
	for _, f := range pkg.files {
		for name, obj := range f.Scope.Objects {
			if obj != nil {
				m[name] = true
			}
		}
	}
	return m
}

// exception is a print or an exit outside cmd/nsup that a doc.go states.
// fn is the function it is in, or "//go:nosplit" for any function of the
// package that has that directive.
type exception struct {
	pkg, fn, what string
	why           string
}

var exceptions = []exception{
	{"executor", "Apply", "os.Stdout", stdioWhy},
	{"executor", "Apply", "os.Stderr", stdioWhy},
	{"executor", "initState.launch", "os.Stdout", outputWhy},
	{"executor", "initState.launch", "os.Stderr", outputWhy},
	{"executor", "initState.logf", "os.Stderr", initLogWhy},
	{"executor", "//go:nosplit", "unix.SYS_EXIT_GROUP", rawWhy},
}

const (
	// executor/doc.go: "stdio.go shares fds 0, 1 and 2 among the
	// environments of a plan".
	stdioWhy = "Options' zero value: nsup's own fds 0, 1 and 2 become the environments'; nothing of executor's is written there"
	// executor/doc.go: init ... "(output.go prefixes the lines of several
	// processes)".
	outputWhy = "init's fds 1 and 2 are its environment's: it relays the lines of its processes there, prefixed"
	// executor/supervise.go: init's own messages (a restart, a process
	// turned unhealthy) go where its processes' output goes.
	initLogWhy = "init's fd 2 is its environment's: its own messages (a restart, a process turned unhealthy) go there, with its processes' output"
	// executor/doc.go: the launcher's "raw clone, whose child does the
	// launch steps", and spawn.go's "one raw clone" per process.
	rawWhy = "a raw program runs in a clone of nsup before its execve, with no Go runtime to return to: that process (the environment's, never nsup) ends itself when a step fails"
)

// TestBoundariesOnlyCmdPrintsOrExits checks that only cmd/nsup prints
// or exits (README.md's Layout; executor/store/doc.go and
// executor/lifecycle/doc.go: "it never prints, and never exits"), but
// for the exceptions executor/doc.go states. nsup's init exits with
// what executor.RunInit returns: cmd/nsup's main calls os.Exit. Within
// cmd/nsup, only main exits or touches the process's stdout and stderr
// (main.go: "every command writes results to stdout and messages to
// stderr, and returns; only main exits").
func TestBoundariesOnlyCmdPrintsOrExits(t *testing.T) {
	pkgs := loadModule(t)
	used := map[exception]bool{}
	for _, p := range sortedPaths(pkgs) {
		pkg := pkgs[p]
		if tools[p] != "" {
			continue
		}
		declared := declaredNames(pkg)
		for _, f := range pkg.files {
			for _, u := range printsAndExits(f, declared) {
				at := pkg.fset.Position(u.pos)
				if p == "cmd/nsup" {
					if u.fn != "main" {
						t.Errorf("%s: %s in %s: in cmd/nsup only main %s (commands write to the ioSet they are given, and return)", at, u.what, u.fn, u.does)
					}
					continue
				}
				ok := false
				for _, e := range exceptions {
					if e.pkg == p && e.what == u.what && (e.fn == u.fn || e.fn == "//go:nosplit" && u.nosplit) {
						ok, used[e] = true, true
					}
				}
				if !ok {
					in := u.fn
					switch {
					case strings.HasPrefix(u.what, "import "):
						in = "its imports"
					case in == "":
						in = "a package-level declaration"
					}
					t.Errorf("%s: %s in %s: package %s %s, and only cmd/nsup does (return the error, or the status, or take an io.Writer)", at, u.what, in, p, u.does)
				}
			}
		}
	}
	for _, e := range exceptions {
		if !used[e] {
			t.Errorf("exception %s %s %s is needed no more: remove it (%s)", e.pkg, e.fn, e.what, e.why)
		}
	}
}

// planning are spec → plan's packages: they read (the spec, the host) and
// never write. spec/doc.go: it "touches no host state beyond reading the
// file it is given"; planner/doc.go: it "reads the host ... but never
// writes anything"; planner/seccomp/doc.go: "it writes nothing and
// changes no process state"; planner/oci/doc.go: "they read and write
// no file".
var planning = []string{"spec", "planner", "planner/seccomp", "planner/oci"}

// osWrites are os's functions that change files, the environment or the
// process.
var osWrites = []string{"Chdir", "Chmod", "Chown", "Chtimes", "Clearenv", "CopyFS", "Create", "CreateTemp",
	"Lchown", "Link", "Mkdir", "MkdirAll", "MkdirTemp", "NewFile", "OpenFile", "Pipe", "Remove", "RemoveAll",
	"Rename", "Setenv", "StartProcess", "Symlink", "Truncate", "Unsetenv", "WriteFile"}

// kernelReads are the functions (and conversions) of syscall and
// golang.org/x/sys/unix that change nothing. Another call of those
// packages fails the test: if it only reads, add it.
var kernelReads = []string{"Access", "BytePtrFromString", "BytePtrToString", "ByteSliceFromString", "ByteSliceToString",
	"Capget", "ClockGettime", "Errno", "Faccessat", "Fstat", "Fstatat", "Fstatfs", "Getegid", "Geteuid", "Getgid", "Getgroups",
	"Getpagesize", "Getpid", "Getppid", "Getrlimit", "Gettid", "Getuid", "Lgetxattr", "Lstat", "Major", "Minor", "Mkdev",
	"Readlink", "Readlinkat", "Signal", "Stat", "Statfs", "Statx", "Uname"}

// TestBoundariesPlanningWritesNothing checks that the planning packages
// call nothing of os, os/exec, syscall or unix that writes or runs.
func TestBoundariesPlanningWritesNothing(t *testing.T) {
	pkgs := loadModule(t)
	for _, p := range planning {
		pkg := pkgs[p]
		if pkg == nil {
			t.Errorf("no package %s", p)
			continue
		}
		for _, f := range pkg.files {
			imp := imports(f)
			// The functions that open a file for reading with openat2(2)
			// (planner.OpenReal: no symlink in the path), or get one from
			// ioctl(2) NS_GET_USERNS (a namespace's owner), which may wrap
			// the fd in an os.File (to close it).
			reads := map[*ast.FuncDecl]bool{}
			for _, d := range f.Decls {
				if fn, ok := d.(*ast.FuncDecl); ok {
					ast.Inspect(fn, func(n ast.Node) bool {
						if call, ok := n.(*ast.CallExpr); ok && (isCall(call, imp, "golang.org/x/sys/unix", "Openat2") && readOnlyHow(call) || nsOwnerQuery(call, imp) && nsQueryName(call) == "NS_GET_USERNS") {
							reads[fn] = true
						}
						return true
					})
				}
			}
			var in *ast.FuncDecl
			ast.Inspect(f, func(n ast.Node) bool {
				if fn, ok := n.(*ast.FuncDecl); ok {
					in = fn
				}
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				x, ok := sel.X.(*ast.Ident)
				if !ok || x.Obj != nil {
					return true
				}
				name, bad := sel.Sel.Name, false
				switch imp[x.Name] {
				case "os":
					bad = slices.Contains(osWrites, name) && !(name == "NewFile" && reads[in])
				case "os/exec":
					bad = name != "LookPath"
				case "syscall", "golang.org/x/sys/unix":
					bad = !slices.Contains(kernelReads, name) && !(name == "Openat2" && readOnlyHow(call)) && !nsOwnerQuery(call, imp) && !landlockVersionQuery(call, imp) && !capbsetReadQuery(call, imp)
				}
				if bad {
					t.Errorf("%s: %s.%s: package %s plans, and never writes nor runs anything (if it only reads, add it to kernelReads)", pkg.fset.Position(call.Pos()), x.Name, name, p)
				}
				return true
			})
		}
	}
}

// isCall says whether call is pkg.name(...), pkg by its import path.
func isCall(call *ast.CallExpr, imp map[string]string, pkg, name string) bool {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && x.Obj == nil && imp[x.Name] == pkg && sel.Sel.Name == name
}

// nsOwnerQuery says whether call is unix.IoctlRetInt(fd,
// unix.NS_GET_USERNS): the user namespace that owns a namespace, as a new
// fd of the caller's (the planner's check of a join by path); or
// NS_GET_NSTYPE, a namespace's type.
func nsOwnerQuery(call *ast.CallExpr, imp map[string]string) bool {
	if !isCall(call, imp, "golang.org/x/sys/unix", "IoctlRetInt") || len(call.Args) != 2 {
		return false
	}
	sel, ok := call.Args[1].(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && imp[x.Name] == "golang.org/x/sys/unix" && (sel.Sel.Name == "NS_GET_USERNS" || sel.Sel.Name == "NS_GET_NSTYPE")
}

// landlockVersionQuery says whether call is unix.Syscall(
// unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0,
// unix.LANDLOCK_CREATE_RULESET_VERSION): the kernel's Landlock ABI, asked
// without creating anything.
func landlockVersionQuery(call *ast.CallExpr, imp map[string]string) bool {
	if !isCall(call, imp, "golang.org/x/sys/unix", "Syscall") || len(call.Args) != 4 {
		return false
	}
	name := func(e ast.Expr) string {
		sel, ok := e.(*ast.SelectorExpr)
		if !ok {
			return ""
		}
		x, ok := sel.X.(*ast.Ident)
		if !ok || imp[x.Name] != "golang.org/x/sys/unix" {
			return ""
		}
		return sel.Sel.Name
	}
	zero := func(e ast.Expr) bool {
		l, ok := e.(*ast.BasicLit)
		return ok && l.Value == "0"
	}
	return name(call.Args[0]) == "SYS_LANDLOCK_CREATE_RULESET" && zero(call.Args[1]) && zero(call.Args[2]) && name(call.Args[3]) == "LANDLOCK_CREATE_RULESET_VERSION"
}

// capbsetReadQuery says whether call is unix.PrctlRetInt(
// unix.PR_CAPBSET_READ, ...): whether the bounding set holds a
// capability (planner.heldCaps, what `add: [ALL]` may give), which
// changes nothing.
func capbsetReadQuery(call *ast.CallExpr, imp map[string]string) bool {
	if !isCall(call, imp, "golang.org/x/sys/unix", "PrctlRetInt") || len(call.Args) != 5 {
		return false
	}
	sel, ok := call.Args[0].(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && imp[x.Name] == "golang.org/x/sys/unix" && sel.Sel.Name == "PR_CAPBSET_READ"
}

// nsQueryName is the request of an nsOwnerQuery call.
func nsQueryName(call *ast.CallExpr) string {
	return call.Args[1].(*ast.SelectorExpr).Sel.Name
}

// readOnlyHow says whether an openat2 call's how (its third argument,
// written &unix.OpenHow{Flags: ...}) asks for reading only: O_RDONLY or
// O_PATH among its flags, and nothing that writes, creates or truncates.
func readOnlyHow(call *ast.CallExpr) bool {
	if len(call.Args) != 3 {
		return false
	}
	u, ok := call.Args[2].(*ast.UnaryExpr)
	if !ok {
		return false
	}
	lit, ok := u.X.(*ast.CompositeLit)
	if !ok {
		return false
	}
	for _, e := range lit.Elts {
		kv, ok := e.(*ast.KeyValueExpr)
		if k, _ := kv.Key.(*ast.Ident); !ok || k == nil || k.Name != "Flags" {
			continue
		}
		reads := false
		writes := false
		ast.Inspect(kv.Value, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				switch sel.Sel.Name {
				case "O_RDONLY", "O_PATH":
					reads = true
				case "O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND", "O_TMPFILE":
					writes = true
				}
			}
			return true
		})
		return reads && !writes
	}
	return false
}

// maxFileLines is how long a non-test file of the module may grow: past
// it, a file holds more than one concern, and is split by concern (as
// planner/kube's import_*.go are). Generated files (zsyscalls.go, a
// table) are exempt.
const maxFileLines = 600

func TestBoundariesFileLength(t *testing.T) {
	pkgs := loadModule(t)
	for _, p := range sortedPaths(pkgs) {
		pkg := pkgs[p]
		for _, f := range pkg.files {
			if ast.IsGenerated(f) {
				continue
			}
			tf := pkg.fset.File(f.Pos())
			if n := tf.LineCount(); n > maxFileLines {
				t.Errorf("%s: %d lines, more than %d: split it by concern", tf.Name(), n, maxFileLines)
			}
		}
	}
}
