package planner

// ELF closure resolution for rootfs.closure: which host files a tree needs
// so that the named programs run in it. Read-only: files are opened and
// read, never executed (no ldd, no ld.so --list), never written. The host
// files and folders are listed by closurefiles.go, the libraries found by
// closureloader.go.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Closure resolves the host paths into the full file list of a rootfs tree.
//
// Each path must be absolute. A symlink is kept as a symlink and followed;
// every folder on the way is listed, and a folder that is a symlink on the
// host (/lib -> usr/lib) is listed as that symlink plus its target, so the
// tree mirrors the host's layout. A directory is copied whole (its symlinks
// are kept, not followed). Each ELF file brings its program interpreter and
// its shared libraries, transitively. Devices, sockets and FIFOs are
// errors. The root folder itself is not listed: it is the tree's folder.
//
// The result is sorted by Path, one File per path; files carry their size
// and sha256 digest. Nothing is executed or written.
func Closure(paths []string) ([]File, error) {
	files, _, err := closure(paths, nil, nil, false)
	return files, err
}

// ClosureFrom is Closure with the digests of unchanged files taken from idx
// (nil: every file is read) and, for each file of the tree, the paths of
// paths that need it: the path itself, the program whose loader maps it,
// or the folder that holds it, in the order of paths.
func ClosureFrom(paths []string, idx *Index) ([]File, map[string][]string, error) {
	return closure(paths, nil, idx, true)
}

// ClosureData is ClosureFrom with data: files added as a folder's are
// (a package's files: an ELF file brings its libraries if it can, a
// script is data), after paths.
func ClosureData(paths, data []string, idx *Index) ([]File, map[string][]string, error) {
	return closure(paths, data, idx, true)
}

func closure(paths, data []string, idx *Index, track bool) ([]File, map[string][]string, error) {
	return closureFollowing(paths, data, idx, track, nil)
}

// closureFollowing is closure with followed, when not nil, asked about
// every symlink the lookups follow (where it is): an error refuses the
// closure.
func closureFollowing(paths, data []string, idx *Index, track bool, followed func(at string) error) ([]File, map[string][]string, error) {
	c := &closureBuilder{
		files:    map[string]File{},
		elfs:     map[string]*elfObjectInfo{},
		index:    idx,
		key:      IndexKey("closure", paths),
		followed: followed,
	}
	if track {
		c.from = map[string][]string{}
	}
	c.named = map[string]bool{}
	for _, p := range append(slices.Clip(paths), data...) {
		if real, _, err := c.lookup(p); err == nil {
			c.named[real] = true
		}
	}
	for _, p := range paths {
		c.cur = p
		if err := c.addPath(p); err != nil {
			return nil, nil, fmt.Errorf("closure %s: %w", p, err)
		}
	}
	for _, p := range data {
		c.cur = p
		real, mode, err := c.resolve(p)
		if err != nil {
			return nil, nil, fmt.Errorf("closure %s: %w", p, err)
		}
		if mode.IsRegular() {
			if err := c.addObject(real, false); err != nil {
				return nil, nil, fmt.Errorf("closure %s: %w", p, err)
			}
		}
	}
	out := make([]File, 0, len(c.files))
	for _, f := range c.files {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return out, c.from, nil
}

// TreeDigest returns "sha256:HEX" over a canonical form of files: one line
// per file, sorted by path, with its path, type, mode, link target and
// content digest. It is the cache key of a closure tree, so it changes
// whenever anything the built tree is made of changes.
func TreeDigest(files []File) string {
	sorted := slices.Clone(files)
	slices.SortStableFunc(sorted, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	h := sha256.New()
	io.WriteString(h, "nsup-tree-v1\n")
	for _, f := range sorted {
		fmt.Fprintf(h, "%s %s %04o %s %s\n",
			strconv.Quote(f.Path), f.Type, f.Mode, strconv.Quote(f.Link), f.Digest)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// closureBuilder holds one Closure call's state; nothing outlives the call.
type closureBuilder struct {
	files map[string]File
	// followed is asked about each symlink a lookup follows.
	followed func(at string) error
	total    int64 // bytes of the files listed
	// elfs caches parsed ELF files by real path; nil means "not ELF".
	elfs map[string]*elfObjectInfo

	ldCache       *ldsoCache
	ldCacheLoaded bool

	// index gives the digests of unchanged files, under key.
	index *Index
	key   string
	// from records, when not nil, which requested path (cur) needs each
	// listed path.
	from map[string][]string
	cur  string
	// named are the real paths the spec names itself, files and folders
	// (library).
	named map[string]bool
}

// mark notes that the requested path being added needs p.
func (c *closureBuilder) mark(p string) {
	if c.from == nil {
		return
	}
	if l := c.from[p]; len(l) == 0 || l[len(l)-1] != c.cur {
		c.from[p] = append(l, c.cur)
	}
}

// addPath adds one path of the spec: the path, followed; a folder whole;
// the libraries of every ELF file.
func (c *closureBuilder) addPath(p string) error {
	if !filepath.IsAbs(p) {
		return errors.New("not an absolute path")
	}
	real, mode, err := c.resolve(p)
	if err != nil {
		return err
	}
	if mode.IsDir() {
		return c.addDir(real)
	}
	return c.addProgram(real, 0)
}

// maxScriptDepth bounds the #! interpreters followed from one program:
// the kernel's own limit on interpreters of interpreters (binfmt_script,
// 4 nested execs, then ELOOP).
const maxScriptDepth = 4

// addProgram adds what the file real (already listed) needs to run as a
// program: an ELF file's interpreter and libraries, or a script's #!
// interpreter, followed as the kernel runs it (and /usr/bin/env's program,
// found through the environment's default PATH on the host, as env would
// find it in the tree), with what that interpreter needs in turn.
func (c *closureBuilder) addProgram(real string, depth int) error {
	info, err := c.elfInfo(real)
	if err != nil || info != nil {
		return c.addObject(real, true)
	}
	interp, arg, ok, err := readShebang(real)
	if err != nil || !ok {
		return err
	}
	if depth == maxScriptDepth {
		return fmt.Errorf("script %s: more than %d #! interpreters in a row", real, maxScriptDepth)
	}
	if !filepath.IsAbs(interp) {
		// The kernel looks a relative interpreter up from the caller's
		// working folder: nothing a tree can hold for sure.
		return fmt.Errorf("script %s: #! interpreter %q is not an absolute path", real, interp)
	}
	// Checked before anything of its path is listed: the interpreter is
	// named by the script, whoever wrote it, and a file listed is a file
	// nsup copies into the tree. Only what the kernel would run is
	// taken (an executable ELF file or script): #!/etc/shadow would
	// otherwise copy a file only root may read for the environment.
	ireal, mode, err := c.lookup(interp)
	if err != nil {
		return fmt.Errorf("#! interpreter %s of %s: %w", interp, real, err)
	}
	if !mode.IsRegular() {
		return fmt.Errorf("#! interpreter %s of %s: not a file", interp, real)
	}
	if err := runnable(ireal); err != nil {
		return fmt.Errorf("#! interpreter %s of %s: %w", interp, real, err)
	}
	again, _, err := c.resolve(interp)
	if err != nil {
		return fmt.Errorf("#! interpreter %s of %s: %w", interp, real, err)
	}
	if again != ireal {
		return fmt.Errorf("#! interpreter %s of %s: it led to %s, then to %s: changed while the closure was made", interp, real, ireal, again)
	}
	if err := c.addProgram(again, depth+1); err != nil {
		return err
	}
	if filepath.Base(interp) != "env" {
		return nil
	}
	name := envProgram(arg)
	if name == "" {
		return nil // env alone prints the environment
	}
	if strings.HasPrefix(name, "-") {
		return fmt.Errorf("script %s: #! %s %s: which program env runs after %s is not known here: write the interpreter's path after #!, or name it in closure too", real, interp, arg, name)
	}
	if strings.Contains(name, "/") {
		return fmt.Errorf("script %s: env's program %q: give it by name (env looks it up in PATH) or write its path after #!", real, name)
	}
	for _, dir := range filepath.SplitList(DefaultPath) {
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
			continue
		}
		preal, _, err := c.resolve(p)
		if err != nil {
			return fmt.Errorf("#! /usr/bin/env %s of %s: %w", name, real, err)
		}
		return c.addProgram(preal, depth+1)
	}
	return fmt.Errorf("script %s: #! %s %s: %q is in no folder of the default PATH (%s) on this host", real, interp, arg, name, DefaultPath)
}

// runnable says why the kernel would not run the file p (a real path) as
// a program: not a regular file, no execute bit, neither ELF nor #!.
func runnable(p string) error {
	f, err := OpenReal(p)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", p)
	}
	if st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not executable (mode %04o)", p, st.Mode().Perm())
	}
	if os.Geteuid() == 0 && st.Mode().Perm()&0o004 == 0 {
		// nsup, as root, reads what the script's author may not: a
		// program only some may read is not copied on a script's word.
		return fmt.Errorf("%s is not readable by all (mode %04o): name it in closure itself to copy it", p, st.Mode().Perm())
	}
	var head [4]byte
	n, _ := io.ReadFull(f, head[:])
	if !bytes.HasPrefix(head[:n], []byte("\x7fELF")) && !bytes.HasPrefix(head[:n], []byte("#!")) {
		return fmt.Errorf("%s is neither an ELF program nor a #! script", p)
	}
	return nil
}

// readShebang reads the #! line of the file at p as the kernel does
// (binfmt_script): at most the first 256 bytes, the interpreter up to the
// first blank, the rest of the line, trimmed, as its one argument.
func readShebang(p string) (interp, arg string, ok bool, err error) {
	f, err := OpenFile(p)
	if err != nil {
		return "", "", false, err
	}
	defer f.Close()
	buf := make([]byte, 256)
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return "", "", false, err
	}
	buf = buf[:n]
	if !bytes.HasPrefix(buf, []byte("#!")) {
		return "", "", false, nil
	}
	line := buf[2:]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	line = bytes.Trim(line, " \t")
	if len(line) == 0 {
		return "", "", false, fmt.Errorf("script %s: #! names no interpreter", p)
	}
	i := bytes.IndexAny(line, " \t")
	if i < 0 {
		return string(line), "", true, nil
	}
	return string(line[:i]), string(bytes.Trim(line[i:], " \t")), true, nil
}

// envProgram is the program /usr/bin/env runs given arg, the one argument
// of a #! line: its first word that is not an option nor an assignment
// (env -S splits the rest into words; "-S python3 -u" runs python3), or
// the first option it does not know.
func envProgram(arg string) string {
	for _, w := range strings.Fields(arg) {
		switch {
		case w == "-S" || w == "--split-string" || w == "-i" || w == "--ignore-environment" || w == "-" || w == "-0" || w == "--null":
			continue
		case strings.HasPrefix(w, "-S"):
			// -Spython3: the word glued to the option.
			if rest := strings.TrimPrefix(w, "-S"); rest != "" && !strings.HasPrefix(rest, "-") {
				return rest
			}
			continue
		case strings.HasPrefix(w, "-"):
			return w // an option nsup does not know (-u NAME, -C DIR): refused
		case strings.Contains(w, "=") && !strings.HasPrefix(w, "="):
			continue // NAME=VALUE
		}
		return w
	}
	return ""
}
