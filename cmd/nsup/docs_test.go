package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"
)

// The user's manual, README.md and docs/**/*.md, is tested: its links
// resolve, and the commands it shows run. A fenced block's info string
// says what is done with it (docs/design.md, "The docs test"):
//
//	```sh run            run by TestDocs: commands that need no root
//	```sh run-root       run by TestRootDocs, as root (sudo is dropped)
//	```sh run-rootless   run by TestRootDocs, as an unprivileged user
//	```sh no-run         shown, not run (it changes the host, or needs
//	                     what a test cannot give); every other shell
//	                     block must say one of these
//	```yaml write=PATH   written to PATH (from the repository's root)
//	                     before the blocks after it run
//	```yaml from=PATH    must appear, as it is, in the file PATH
//
// The blocks of a document run in order, each with bash -e, in a copy of
// the repository (the files git tracks) at DIR/nsup; bin/nsup and nsup
// are the nsup this test builds, NSUP_STATE_DIR, NSUP_CACHE_DIR and
// NSUP_VOLUME_DIR temporary folders. Once a document's blocks have run,
// every detached environment is taken down. The first block of README.md
// (make demo, make test) is the front door's: CI runs its make test
// (.ci/run), and TestRootDocs its make demo.

// docRoot is the repository's root, from this package's folder.
const docRoot = "../.."

// A docBlock is one fenced code block of a document.
type docBlock struct {
	file  string // relative to the repository's root
	line  int    // of the opening fence
	lang  string
	words []string // the info string after the language
	body  string
}

var shellLangs = map[string]bool{"sh": true, "bash": true, "shell": true, "console": true}

var docModes = []string{"run", "run-root", "run-rootless", "no-run"}

// mode is the block's run mode, or "".
func (b docBlock) mode() string {
	for _, w := range b.words {
		if slices.Contains(docModes, w) {
			return w
		}
	}
	return ""
}

// attr is the value of the block's NAME=VALUE word.
func (b docBlock) attr(name string) (string, bool) {
	for _, w := range b.words {
		if v, ok := strings.CutPrefix(w, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

func (b docBlock) String() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

// frontDoor is README.md's first block: make demo and make test.
func (b docBlock) frontDoor() bool { return b.file == "README.md" && b.line == firstFence("README.md") }

var firstFences = map[string]int{}

func firstFence(file string) int {
	if l, ok := firstFences[file]; ok {
		return l
	}
	text, _ := os.ReadFile(filepath.Join(docRoot, file))
	blocks, _ := parseDoc(file, string(text))
	l := 0
	if len(blocks) > 0 {
		l = blocks[0].line
	}
	firstFences[file] = l
	return l
}

// docFiles are README.md and every docs/**/*.md, from the root.
func docFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md"}
	err := filepath.WalkDir(filepath.Join(docRoot, "docs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".md") {
			rel, _ := filepath.Rel(docRoot, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files[1:])
	return files
}

var fenceRE = regexp.MustCompile("^ {0,3}(```+|~~~+)\\s*(.*)$")

// parseDoc splits a Markdown document into its fenced blocks and its
// prose (the text with every block's lines blanked, so that line numbers
// stay).
func parseDoc(file, text string) ([]docBlock, string) {
	lines := strings.Split(text, "\n")
	var blocks []docBlock
	prose := make([]string, len(lines))
	var cur *docBlock
	var fence string
	var body []string
	for i, l := range lines {
		if cur == nil {
			if m := fenceRE.FindStringSubmatch(l); m != nil {
				words := strings.Fields(m[2])
				cur = &docBlock{file: file, line: i + 1}
				if len(words) > 0 {
					cur.lang, cur.words = words[0], words[1:]
				}
				fence, body = m[1], nil
				continue
			}
			prose[i] = l
			continue
		}
		if t := strings.TrimSpace(l); strings.HasPrefix(t, fence) && strings.Trim(t, fence[:1]) == "" {
			cur.body = strings.Join(body, "\n") + "\n"
			blocks = append(blocks, *cur)
			cur = nil
			continue
		}
		body = append(body, l)
	}
	return blocks, strings.Join(prose, "\n")
}

func readDoc(t *testing.T, file string) ([]docBlock, string) {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(docRoot, file))
	if err != nil {
		t.Fatal(err)
	}
	return parseDoc(file, string(text))
}

// TestDocsBlocks checks the blocks' marks: every shell block says whether
// and how it runs, a run block needs no sudo, a from= block is in its
// file, a write= path stays in the copy.
func TestDocsBlocks(t *testing.T) {
	runnable := 0
	for _, f := range docFiles(t) {
		blocks, _ := readDoc(t, f)
		for _, b := range blocks {
			m := b.mode()
			switch {
			case b.frontDoor():
				if !strings.Contains(b.body, "make demo") || !strings.Contains(b.body, "make test") {
					t.Errorf("%s: README.md's first block is the front door's: make demo and make test", b)
				}
			case shellLangs[b.lang] && m == "":
				t.Errorf("%s: a %s block without %s in its info string", b, b.lang, strings.Join(docModes, ", "))
			case !shellLangs[b.lang] && m != "":
				t.Errorf("%s: %s on a %q block: only shell blocks run", b, m, b.lang)
			}
			if m == "run" || m == "run-rootless" {
				if regexp.MustCompile(`(^|[\s;&|(])sudo\s`).MatchString(b.body) {
					t.Errorf("%s: a %s block uses sudo", b, m)
				}
			}
			if strings.HasPrefix(m, "run") {
				runnable++
			}
			if p, ok := b.attr("from"); ok {
				src, err := os.ReadFile(filepath.Join(docRoot, p))
				if err != nil {
					t.Errorf("%s: from=%s: %v", b, p, err)
				} else if !strings.Contains(string(src), b.body) {
					t.Errorf("%s: this block is not in %s as it is (copy it again)", b, p)
				}
			}
			if p, ok := b.attr("write"); ok && (!filepath.IsLocal(p) || p == "") {
				t.Errorf("%s: write=%s: not a relative path inside the repository", b, p)
			}
		}
	}
	if runnable < 10 {
		t.Errorf("only %d runnable blocks in the docs", runnable)
	}
}

// tracked lists the repository's files as git tracks them (a fresh clone
// has these), or, without git, the files on disk.
func tracked(t *testing.T) map[string]bool {
	t.Helper()
	files := map[string]bool{}
	out, err := exec.Command("git", "-C", docRoot, "ls-files", "-z").Output()
	if err == nil {
		for _, f := range strings.Split(string(out), "\x00") {
			if f != "" {
				files[f] = true
			}
		}
		return files
	}
	t.Logf("git ls-files: %v: checking the files on disk", err)
	filepath.WalkDir(docRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(docRoot, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() && (rel == ".git" || rel == "bin") {
			return fs.SkipDir
		}
		if !d.IsDir() {
			files[rel] = true
		}
		return nil
	})
	return files
}

var (
	linkRE     = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	refLinkRE  = regexp.MustCompile(`(?m)^ {0,3}\[[^\]]+\]:\s*(\S+)`)
	codeSpanRE = regexp.MustCompile("`+[^`]*`+")
	headingRE  = regexp.MustCompile(`(?m)^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$`)
	mdLinkRE   = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
)

// anchors are the anchors GitHub gives the headings of a document.
func anchors(prose string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, m := range headingRE.FindAllStringSubmatch(prose, -1) {
		s := slugify(m[1])
		if n := seen[s]; n > 0 {
			out[fmt.Sprintf("%s-%d", s, n)] = true
		} else {
			out[s] = true
		}
		seen[s]++
	}
	return out
}

// slugify is GitHub's anchor of a heading: its text, lowercased, every
// character but letters, digits, '-', '_' and spaces dropped, spaces made
// '-'.
func slugify(h string) string {
	h = mdLinkRE.ReplaceAllString(h, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestDocsLinks checks every link of README.md and docs/**/*.md: a
// relative one names a file or folder the repository tracks (so that it
// resolves in a fresh clone), never one outside it, and its anchor, if
// any, a heading of that document.
func TestDocsLinks(t *testing.T) {
	files := tracked(t)
	isDir := func(p string) bool {
		for f := range files {
			if strings.HasPrefix(f, p+"/") {
				return true
			}
		}
		return false
	}
	prose := map[string]string{}
	proseOf := func(f string) string {
		if p, ok := prose[f]; ok {
			return p
		}
		_, p := readDoc(t, f)
		prose[f] = p
		return p
	}
	n := 0
	for _, f := range docFiles(t) {
		if !files[f] {
			t.Errorf("%s is not tracked by git: a fresh clone lacks it", f)
		}
		text := codeSpanRE.ReplaceAllStringFunc(proseOf(f), func(s string) string { return strings.Repeat(" ", len(s)) })
		var targets []string
		for _, m := range linkRE.FindAllStringSubmatch(text, -1) {
			targets = append(targets, m[1])
		}
		for _, m := range refLinkRE.FindAllStringSubmatch(text, -1) {
			targets = append(targets, m[1])
		}
		for _, target := range targets {
			if regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`).MatchString(target) {
				continue // a URL
			}
			n++
			file, anchor, _ := strings.Cut(target, "#")
			dest := f
			if file != "" {
				if strings.HasPrefix(file, "/") {
					t.Errorf("%s: link %s: an absolute path (write it relative to %s)", f, target, path.Dir(f))
					continue
				}
				dest = path.Join(path.Dir(f), file)
				if dest == ".." || strings.HasPrefix(dest, "../") {
					t.Errorf("%s: link %s leads outside the repository", f, target)
					continue
				}
				if !files[dest] && !isDir(dest) && dest != "." {
					t.Errorf("%s: link %s: %s is not in the repository", f, target, dest)
					continue
				}
			}
			if anchor != "" && strings.HasSuffix(dest, ".md") && files[dest] {
				if !anchors(proseOf(dest))[anchor] {
					t.Errorf("%s: link %s: %s has no heading whose anchor is #%s", f, target, dest, anchor)
				}
			}
		}
	}
	if n < 10 {
		t.Errorf("only %d relative links in the docs: is the parsing broken?", n)
	}
}

// TestDocs runs the docs' run blocks.
func TestDocs(t *testing.T) {
	runDocs(t, false)
}

// TestRootDocs runs the docs' run, run-root and run-rootless blocks, and
// README.md's make demo.
func TestRootDocs(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("bash"); err != nil {
		skipOrFail(t, "needs bash")
	}
	requireBusybox(t)
	runDocs(t, true)
}

func runDocs(t *testing.T, root bool) {
	bin := buildNsup(t)
	files := tracked(t)
	cache := t.TempDir()
	var user *testUser
	for _, f := range docFiles(t) {
		blocks, _ := readDoc(t, f)
		todo := false
		for _, b := range blocks {
			m := b.mode()
			todo = todo || m == "run" || root && (m == "run-root" || m == "run-rootless" || b.frontDoor())
		}
		if !todo {
			continue
		}
		t.Run(f, func(t *testing.T) {
			if root {
				checkHost(t)
			}
			// A folder every user may enter (rootless blocks run as
			// another user), holding the copy.
			top, err := os.MkdirTemp("", "nsup-docs-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(top) })
			os.Chmod(top, 0o755)
			dir := filepath.Join(top, "nsup")
			copyRepo(t, files, dir)
			d := &docRun{t: t, bin: bin, dir: dir, env: []string{
				"PATH=" + filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH"),
				"NSUP_CACHE_DIR=" + cache,
				"NSUP_STATE_DIR=" + mkdir(t, top, "state"),
				"NSUP_VOLUME_DIR=" + mkdir(t, top, "volumes"),
			}}
			defer d.takeDown()
			for _, b := range blocks {
				if p, ok := b.attr("write"); ok {
					dst := filepath.Join(dir, p)
					os.MkdirAll(filepath.Dir(dst), 0o755)
					if err := os.WriteFile(dst, []byte(b.body), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				switch m := b.mode(); {
				case m == "run":
					d.run(b, b.body)
				case root && m == "run-root":
					d.run(b, b.body)
				case root && m == "run-rootless":
					if user == nil {
						u := makeUser(t) // removed at the end of this document's test
						requireTun(t, u) // the guides' networks are rootless pasta's too
						user = &u
						t.Cleanup(func() { user = nil })
					}
					d.asUser(user, top)
					d.run(b, b.body)
				case root && b.frontDoor():
					d.run(b, "make demo\n")
				}
				if t.Failed() {
					return // the next blocks may need what this one did
				}
			}
		})
	}
}

func mkdir(t *testing.T, parent, name string) string {
	t.Helper()
	p := filepath.Join(parent, name)
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

// copyRepo copies the repository's tracked files to dir.
func copyRepo(t *testing.T, files map[string]bool, dir string) {
	t.Helper()
	for f := range files {
		src := filepath.Join(docRoot, f)
		st, err := os.Lstat(src)
		if err != nil {
			continue // deleted, not yet committed
		}
		dst := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			l, _ := os.Readlink(src)
			os.Symlink(l, dst)
			continue
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, st.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// docRun runs the blocks of one document.
type docRun struct {
	t    *testing.T
	bin  string
	dir  string
	env  []string
	user *testUser // rootless blocks run as this user, with uenv
	uenv []string
}

// asUser makes the copy the user's, and its own state, cache and volume
// folders, for the rootless blocks that follow.
func (d *docRun) asUser(u *testUser, top string) {
	t := d.t
	if d.user == nil {
		home := mkdir(t, top, "home")
		d.uenv = []string{
			"PATH=" + filepath.Dir(d.bin) + ":/usr/sbin:/usr/bin:/sbin:/bin",
			"HOME=" + home,
			"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
			"XDG_DATA_HOME=" + filepath.Join(home, ".local/share"),
			"NSUP_STATE_DIR=" + filepath.Join(home, "state"),
			"NSUP_VOLUME_DIR=" + filepath.Join(home, "volumes"),
		}
		if err := os.Chown(home, u.uid, u.gid); err != nil {
			t.Fatal(err)
		}
	}
	d.user = u
	// What root blocks made before belongs to the user now.
	filepath.WalkDir(d.dir, func(p string, _ fs.DirEntry, err error) error {
		if err == nil {
			os.Lchown(p, u.uid, u.gid)
		}
		return nil
	})
}

var binNsupRE = regexp.MustCompile("(^|[\\s;&|(`$])(?:\\./)?bin/nsup\\b")

// script is a block's text as bash runs it: bin/nsup is the nsup on
// PATH, and sudo runs its command as it is (root blocks run as root; env
// takes VAR=VALUE before the command, as sudo does).
func script(body string) string {
	return "set -eo pipefail\nsudo() { env \"$@\"; }\nset -x\n" +
		binNsupRE.ReplaceAllString(body, "${1}nsup")
}

// run runs a block's text in the copy, and fails the test if it fails.
func (d *docRun) run(b docBlock, body string) {
	t := d.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var cmd *exec.Cmd
	if d.user != nil && b.mode() == "run-rootless" {
		cmd = d.user.command(d.uenv, "bash", "-c", script(body))
		cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	} else {
		cmd = exec.CommandContext(ctx, "bash", "-c", script(body))
		cmd.Env = append(os.Environ(), d.env...)
	}
	cmd.Dir = d.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	if err != nil {
		t.Errorf("%s (%s block): %v after %v\n%s", b, b.mode(), err, time.Since(start).Round(time.Millisecond), out.String())
		return
	}
	if testing.Verbose() {
		t.Logf("%s: ok in %v\n%s", b, time.Since(start).Round(time.Millisecond), out.String())
	}
}

// takeDown takes down every detached environment the blocks left, as
// root and as the user.
func (d *docRun) takeDown() {
	t := d.t
	for _, asUser := range []bool{false, true} {
		if asUser && d.user == nil {
			continue
		}
		var cmd func(args ...string) *exec.Cmd
		if asUser {
			cmd = func(args ...string) *exec.Cmd { return d.user.command(d.uenv, append([]string{d.bin}, args...)...) }
		} else {
			cmd = func(args ...string) *exec.Cmd {
				c := exec.Command(d.bin, args...)
				c.Env = append(os.Environ(), d.env...)
				return c
			}
		}
		c := cmd("ps", "-a", "--json")
		c.Dir = "/"
		out, err := c.Output()
		if err != nil {
			t.Errorf("nsup ps -a --json: %v", err)
			continue
		}
		var envs []struct{ Project, Name string }
		if err := json.Unmarshal(out, &envs); err != nil {
			t.Errorf("nsup ps -a --json: %v\n%s", err, out)
			continue
		}
		projects := map[string]bool{}
		for _, e := range envs {
			projects[e.Project] = true
		}
		for p := range projects {
			c := cmd("down", "-p", p)
			c.Dir = "/"
			if out, err := c.CombinedOutput(); err != nil {
				t.Errorf("nsup down -p %s: %v\n%s", p, err, out)
			}
		}
	}
}
