package planner

// ELF closure resolution for rootfs.closure: which host files a tree needs
// so that the named programs run in it. Read-only: files are opened and
// read, never executed (no ldd, no ld.so --list), never written.
//
// Libraries are found as the glibc dynamic loader finds them (ld.so(8)),
// for a process started with a clean environment:
//
//  1. a DT_NEEDED name containing a slash is a path (after $ORIGIN & co.
//     are expanded);
//  2. unless the requesting object has DT_RUNPATH: the DT_RPATH of the
//     requesting object, then of the object that loaded it, and so on up
//     to the executable (glibc's l_loader chain; an object that has both
//     tags has no DT_RPATH, as in glibc's get-dynamic-info.h);
//  3. LD_LIBRARY_PATH: never (the environment is clean);
//  4. the DT_RUNPATH of the requesting object only (not inherited);
//  5. /etc/ld.so.cache, entries whose flags fit the requester's ELF class
//     and machine (x86-64: 0x0303);
//  6. the default directories (skipped, like 5 for its system-directory
//     entries, when the requester has DF_1_NODEFLIB).
//
// Each program is simulated on its own, breadth first, as the loader maps
// dependencies: a name already loaded (as a DT_NEEDED name, a DT_SONAME or
// the PT_INTERP path) is not searched again, and a candidate of the wrong
// ELF class or machine is skipped. The closure is the union over programs.
//
// Where the loader depends on the CPU or on run-time state, one
// deterministic choice is made instead:
//   - glibc-hwcaps and legacy hwcap subdirectories (x86-64-v3, tls, …) are
//     not searched and ld.so.cache entries with hwcap bits are skipped: the
//     baseline library is always present and runs on any CPU;
//   - relative and empty RPATH/RUNPATH entries (relative to the working
//     directory at run time) are skipped;
//   - $ORIGIN of a program is the folder of its real path (what the kernel
//     passes via /proc/self/exe); of a library, the folder of the path it
//     was found at, as glibc computes l_origin;
//   - $LIB is "lib/TRIPLET" when the host has /lib/TRIPLET (Debian
//     multiarch, as Debian's ld.so), else "lib64" for 64-bit objects and
//     "lib" for 32-bit ones; $PLATFORM is the kernel's AT_PLATFORM for the
//     machine (x86_64, i686, aarch64, …); an entry with a token that cannot
//     be expanded is skipped.
//
// The default directories are /lib/TRIPLET and /usr/lib/TRIPLET (multiarch),
// then /lib64 and /usr/lib64 for 64-bit objects, then /lib and /usr/lib.
// /etc/ld.so.cache is read but not put in the tree: it changes at every
// ldconfig run and would change the tree's digest for nothing; a library
// the host finds only through the cache (e.g. in /usr/local/lib) is copied,
// but the environment's loader finds it only if that folder is one of its
// default directories.

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
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
	files, _, err := closure(paths, nil, false)
	return files, err
}

// ClosureFrom is Closure with the digests of unchanged files taken from idx
// (nil: every file is read) and, for each file of the tree, the paths of
// paths that need it: the path itself, the program whose loader maps it,
// or the folder that holds it, in the order of paths.
func ClosureFrom(paths []string, idx *Index) ([]File, map[string][]string, error) {
	return closure(paths, idx, true)
}

func closure(paths []string, idx *Index, track bool) ([]File, map[string][]string, error) {
	c := &closureBuilder{
		files: map[string]File{},
		elfs:  map[string]*elfObjectInfo{},
		index: idx,
		key:   IndexKey("closure", paths),
	}
	if track {
		c.from = map[string][]string{}
	}
	for _, p := range paths {
		c.cur = p
		if err := c.addPath(p); err != nil {
			return nil, nil, fmt.Errorf("closure %s: %w", p, err)
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

// maxSymlinks is the kernel's limit on symlinks followed in one lookup
// (path_resolution(7)); more is ELOOP.
const maxSymlinks = 40

// closureBuilder holds one Closure call's state; nothing outlives the call.
type closureBuilder struct {
	files map[string]File
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
	return c.addObject(real, true)
}

// resolve looks p up one component at a time, as the kernel does, listing
// every folder and symlink it passes and the file it ends at. It returns
// the real path (no symlink in it) and the type of what it names.
func (c *closureBuilder) resolve(p string) (string, fs.FileMode, error) {
	rest := closurePathParts(p)
	cur := "/"
	mode := fs.ModeDir
	links := 0
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		if name == ".." {
			// cur has no symlink in it, so its lexical parent is the
			// physical one.
			cur = filepath.Dir(cur)
			mode = fs.ModeDir
			continue
		}
		if !mode.IsDir() {
			return "", 0, &fs.PathError{Op: "lookup", Path: cur, Err: syscall.ENOTDIR}
		}
		next := filepath.Join(cur, name)
		fi, err := os.Lstat(next)
		if err != nil {
			return "", 0, err
		}
		mode = fi.Mode()
		switch {
		case mode&fs.ModeSymlink != 0:
			links++
			if links > maxSymlinks {
				return "", 0, &fs.PathError{Op: "lookup", Path: p, Err: syscall.ELOOP}
			}
			target, err := os.Readlink(next)
			if err != nil {
				return "", 0, err
			}
			c.files[next] = File{Path: next, Type: "symlink", Mode: closureMode(mode), Link: target}
			c.mark(next)
			if filepath.IsAbs(target) {
				cur = "/"
			}
			rest = append(closurePathParts(target), rest...)
			mode = fs.ModeDir // cur is a folder again
		case mode.IsDir():
			if _, ok := c.files[next]; !ok {
				c.files[next] = File{Path: next, Type: "dir", Mode: closureMode(mode)}
			}
			c.mark(next)
			cur = next
		case mode.IsRegular():
			if err := c.addFile(next, fi); err != nil {
				return "", 0, err
			}
			cur = next
		default:
			return "", 0, closureSpecialError(next, mode)
		}
	}
	return cur, mode, nil
}

// closurePathParts splits p into its components, without "" and ".".
func closurePathParts(p string) []string {
	var parts []string
	for _, s := range strings.Split(p, "/") {
		if s != "" && s != "." {
			parts = append(parts, s)
		}
	}
	return parts
}

func closureSpecialError(p string, mode fs.FileMode) error {
	kind := "special file"
	switch {
	case mode&fs.ModeCharDevice != 0:
		kind = "character device"
	case mode&fs.ModeDevice != 0:
		kind = "block device"
	case mode&fs.ModeSocket != 0:
		kind = "socket"
	case mode&fs.ModeNamedPipe != 0:
		kind = "fifo"
	}
	return fmt.Errorf("%s: is a %s, not a regular file, directory or symlink", p, kind)
}

// closureMode keeps the permission bits and the sticky bit; setuid and
// setgid are dropped: a tree never grants privileges.
func closureMode(m fs.FileMode) uint32 {
	v := uint32(m.Perm())
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return v
}

// addFile lists the regular file p (a real path), with its digest: the
// index's when fi (its lstat) shows the file unchanged since it was hashed,
// else read now.
func (c *closureBuilder) addFile(p string, fi fs.FileInfo) error {
	c.mark(p)
	if _, ok := c.files[p]; ok {
		return nil
	}
	f := File{Path: p, Type: "file", Mode: closureMode(fi.Mode()), Source: p, Size: fi.Size()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if d, ok := c.index.lookup(c.key, p, st); ok {
			f.Digest = d
			c.files[p] = f
			return nil
		}
	}
	d, n, err := c.index.hashFile(c.key, p)
	if err != nil {
		return err
	}
	f.Digest, f.Size = d, n
	c.files[p] = f
	return nil
}

// addDir copies the folder real (a real path) whole. Symlinks inside are
// kept as they are, not followed: they point where they point on the host.
func (c *closureBuilder) addDir(real string) error {
	return filepath.WalkDir(real, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		mode := fi.Mode()
		switch {
		case mode.IsDir():
			if p != "/" {
				c.files[p] = File{Path: p, Type: "dir", Mode: closureMode(mode)}
				c.mark(p)
			}
		case mode&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			c.files[p] = File{Path: p, Type: "symlink", Mode: closureMode(mode), Link: target}
			c.mark(p)
		case mode.IsRegular():
			if err := c.addFile(p, fi); err != nil {
				return err
			}
			// A damaged ELF file inside a copied folder is data to copy,
			// not an error.
			return c.addObject(p, false)
		default:
			return closureSpecialError(p, mode)
		}
		return nil
	})
}

// elfObjectInfo is what the loader reads from an ELF file.
type elfObjectInfo struct {
	class   elf.Class
	data    elf.Data
	machine elf.Machine
	interp  string   // PT_INTERP, or ""
	needed  []string // DT_NEEDED, in order
	soname  string
	rpath   *string // DT_RPATH; nil when absent or when DT_RUNPATH is set
	runpath *string
	flags1  uint64 // DT_FLAGS_1
}

// elfInfo parses the ELF file at real, once per call; nil, nil when it is
// not an ELF file.
func (c *closureBuilder) elfInfo(real string) (*elfObjectInfo, error) {
	if info, ok := c.elfs[real]; ok {
		return info, nil
	}
	info, err := readELFObject(real)
	if err != nil {
		return nil, err
	}
	c.elfs[real] = info
	return info, nil
}

// loadedObject is one object mapped in a simulated process.
type loadedObject struct {
	path   string // as found: glibc's l_name, the base of $ORIGIN
	real   string
	origin string
	info   *elfObjectInfo
	loader *loadedObject // the object whose DT_NEEDED loaded this one
}

// addObject adds the interpreter and the shared libraries of the file real
// (already listed) if it is a dynamically linked ELF file: a simulated run
// of it as the main program. strict says whether a damaged ELF file is an
// error or just a file.
func (c *closureBuilder) addObject(real string, strict bool) error {
	info, err := c.elfInfo(real)
	if err != nil {
		if strict {
			return err
		}
		return nil
	}
	if info == nil {
		return nil
	}
	main := &loadedObject{path: real, real: real, origin: filepath.Dir(real), info: info}
	loaded := map[string]*loadedObject{} // by DT_NEEDED name, soname, path and real path
	loaded[real] = main
	if info.soname != "" {
		loaded[info.soname] = main
	}
	if info.interp != "" && !closureFits(filepath.Join("/", info.interp), info) {
		// The kernel runs only an ELF interpreter of the binary's own
		// class and machine: anything else (a crafted PT_INTERP naming
		// /etc/shadow) must not be copied into the tree.
		if !strict {
			return nil
		}
		return fmt.Errorf("program interpreter %s of %s: not an ELF file of its class and machine", info.interp, real)
	}
	if info.interp != "" {
		// The interpreter is mapped first, by the kernel; a later
		// DT_NEEDED of its soname (libc needs ld-linux-x86-64.so.2) is it.
		ireal, _, err := c.resolve(info.interp)
		if err != nil {
			return fmt.Errorf("program interpreter %s of %s: %w", info.interp, real, err)
		}
		interp := &loadedObject{path: info.interp, real: ireal}
		loaded[info.interp] = interp
		loaded[ireal] = interp
		if ii, err := c.elfInfo(ireal); err == nil && ii != nil && ii.soname != "" {
			loaded[ii.soname] = interp
		}
	}
	// Breadth first, as _dl_map_object_deps maps them: which object loads a
	// library first decides whose RPATH chain applies.
	queue := []*loadedObject{main}
	for len(queue) > 0 {
		o := queue[0]
		queue = queue[1:]
		for _, name := range o.info.needed {
			if _, ok := loaded[name]; ok {
				continue
			}
			found, err := c.search(name, o)
			if err != nil {
				return err
			}
			if found == "" {
				return fmt.Errorf("library %s needed by %s: not found", name, o.path)
			}
			lreal, _, err := c.resolve(found)
			if err != nil {
				return err
			}
			if same, ok := loaded[lreal]; ok {
				// The same file under another name (glibc compares
				// device and inode).
				loaded[name] = same
				continue
			}
			linfo, err := c.elfInfo(lreal)
			if err != nil {
				return fmt.Errorf("library %s needed by %s: %w", name, o.path, err)
			}
			lo := &loadedObject{path: found, real: lreal, origin: closureOrigin(found), info: linfo, loader: o}
			loaded[name] = lo
			loaded[found] = lo
			loaded[lreal] = lo
			if linfo.soname != "" {
				loaded[linfo.soname] = lo
			}
			queue = append(queue, lo)
		}
	}
	return nil
}

// closureOrigin is $ORIGIN for an object found at p: the path up to its
// last slash, as glibc's _dl_new_object computes l_origin.
func closureOrigin(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// search finds the library name needed by o, in ld.so(8)'s order. It
// returns the path the loader would open, or "" when none fits.
func (c *closureBuilder) search(name string, o *loadedObject) (string, error) {
	if strings.Contains(name, "$") {
		exp, ok := c.expandDST(name, o)
		if !ok {
			return "", nil
		}
		name = exp
	}
	if strings.Contains(name, "/") {
		if !filepath.IsAbs(name) {
			return "", fmt.Errorf("%s needs %q, a path relative to the working directory at run time", o.path, name)
		}
		if closureFits(name, o.info) {
			return name, nil
		}
		return "", nil
	}
	// DT_RPATH, up the chain of loaders, unless o has DT_RUNPATH.
	if o.info.runpath == nil {
		for l := o; l != nil; l = l.loader {
			if l.info.rpath == nil {
				continue
			}
			if p := c.searchDirs(name, *l.info.rpath, l, o.info); p != "" {
				return p, nil
			}
		}
	}
	// LD_LIBRARY_PATH: the environment is clean.
	if o.info.runpath != nil {
		if p := c.searchDirs(name, *o.info.runpath, o, o.info); p != "" {
			return p, nil
		}
	}
	nodeflib := o.info.flags1&uint64(elf.DF_1_NODEFLIB) != 0
	defaults := closureDefaultDirs(o.info)
	for _, p := range c.cacheLookup(name, o.info) {
		if nodeflib && slices.Contains(defaults, filepath.Dir(p)) {
			continue
		}
		if closureFits(p, o.info) {
			return p, nil
		}
		break // glibc tries the first entry only, then the default dirs
	}
	if nodeflib {
		return "", nil
	}
	for _, d := range defaults {
		if p := d + "/" + name; closureFits(p, o.info) {
			return p, nil
		}
	}
	return "", nil
}

// searchDirs looks for name in a DT_RPATH or DT_RUNPATH list that belongs
// to owner (whose $ORIGIN it uses), for a requester described by want.
func (c *closureBuilder) searchDirs(name, list string, owner *loadedObject, want *elfObjectInfo) string {
	for _, d := range strings.Split(list, ":") {
		if strings.Contains(d, "$") {
			exp, ok := c.expandDST(d, owner)
			if !ok {
				continue
			}
			d = exp
		}
		if !filepath.IsAbs(d) {
			continue // "" and relative entries depend on the working directory
		}
		p := strings.TrimRight(d, "/") + "/" + name
		if closureFits(p, want) {
			return p
		}
	}
	return ""
}

// expandDST expands the dynamic string tokens of ld.so(8) in s for object
// o; false when one cannot be expanded (the entry is then skipped, as
// glibc does).
func (c *closureBuilder) expandDST(s string, o *loadedObject) (string, bool) {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		b.WriteString(s[:i])
		s = s[i+1:]
		var tok string
		if strings.HasPrefix(s, "{") {
			j := strings.IndexByte(s, '}')
			if j < 0 {
				b.WriteByte('$')
				continue
			}
			tok, s = s[1:j], s[j+1:]
		} else {
			j := 0
			for j < len(s) && (s[j] == '_' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			tok, s = s[:j], s[j:]
		}
		switch tok {
		case "ORIGIN":
			if o.origin == "" {
				return "", false
			}
			b.WriteString(o.origin)
		case "LIB":
			b.WriteString(closureLIB(o.info))
		case "PLATFORM":
			p := closureArch(o.info).platform
			if p == "" {
				return "", false
			}
			b.WriteString(p)
		default:
			// Not a token glibc knows: kept as written.
			b.WriteString("$" + tok)
		}
	}
}

// closureArchInfo describes how glibc names things for one ELF class and
// machine.
type closureArchInfo struct {
	triplet  string   // Debian multiarch triplet
	platform string   // AT_PLATFORM
	cacheReq []uint32 // ld.so.cache FLAG_*_LIB* values allowed; nil: any
}

type closureArchKey struct {
	class   elf.Class
	machine elf.Machine
}

// closureArches: ld.so.cache flags from glibc's sysdeps/generic/ldconfig.h
// (FLAG_X8664_LIB64 0x0300, …); triplets from Debian's multiarch names.
var closureArches = map[closureArchKey]closureArchInfo{
	{elf.ELFCLASS64, elf.EM_X86_64}:    {"x86_64-linux-gnu", "x86_64", []uint32{0x0300}},
	{elf.ELFCLASS32, elf.EM_X86_64}:    {"x86_64-linux-gnux32", "x86_64", []uint32{0x0800}},
	{elf.ELFCLASS32, elf.EM_386}:       {"i386-linux-gnu", "i686", []uint32{0}},
	{elf.ELFCLASS64, elf.EM_AARCH64}:   {"aarch64-linux-gnu", "aarch64", []uint32{0x0a00}},
	{elf.ELFCLASS32, elf.EM_ARM}:       {"arm-linux-gnueabihf", "", []uint32{0x0900, 0x0b00, 0}},
	{elf.ELFCLASS64, elf.EM_PPC64}:     {"powerpc64le-linux-gnu", "", []uint32{0x0500}},
	{elf.ELFCLASS32, elf.EM_PPC}:       {"powerpc-linux-gnu", "", []uint32{0}},
	{elf.ELFCLASS64, elf.EM_S390}:      {"s390x-linux-gnu", "s390x", []uint32{0x0400}},
	{elf.ELFCLASS64, elf.EM_SPARCV9}:   {"sparc64-linux-gnu", "", []uint32{0x0100}},
	{elf.ELFCLASS64, elf.EM_IA_64}:     {"ia64-linux-gnu", "", []uint32{0x0200}},
	{elf.ELFCLASS64, elf.EM_RISCV}:     {"riscv64-linux-gnu", "", []uint32{0x0f00, 0x1000}},
	{elf.ELFCLASS64, elf.EM_LOONGARCH}: {"loongarch64-linux-gnu", "", []uint32{0x1100, 0x1200}},
}

func closureArch(info *elfObjectInfo) closureArchInfo {
	return closureArches[closureArchKey{info.class, info.machine}]
}

// closureLIB is the expansion of $LIB.
func closureLIB(info *elfObjectInfo) string {
	if t := closureArch(info).triplet; t != "" {
		if st, err := os.Stat("/lib/" + t); err == nil && st.IsDir() {
			return "lib/" + t
		}
	}
	if info.class == elf.ELFCLASS64 {
		return "lib64"
	}
	return "lib"
}

// closureDefaultDirs are the loader's built-in folders for this class and
// machine (see the file comment).
func closureDefaultDirs(info *elfObjectInfo) []string {
	var dirs []string
	if t := closureArch(info).triplet; t != "" {
		dirs = append(dirs, "/lib/"+t, "/usr/lib/"+t)
	}
	if info.class == elf.ELFCLASS64 {
		dirs = append(dirs, "/lib64", "/usr/lib64")
	}
	return append(dirs, "/lib", "/usr/lib")
}

// closureFits reports whether p is an ELF file the requester could load:
// same class, byte order and machine (glibc's open_verify).
func closureFits(p string, want *elfObjectInfo) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return false
	}
	var h [20]byte
	if _, err := io.ReadFull(f, h[:]); err != nil || string(h[:4]) != elf.ELFMAG {
		return false
	}
	class, data := elf.Class(h[elf.EI_CLASS]), elf.Data(h[elf.EI_DATA])
	var machine elf.Machine
	switch data {
	case elf.ELFDATA2LSB:
		machine = elf.Machine(binary.LittleEndian.Uint16(h[18:]))
	case elf.ELFDATA2MSB:
		machine = elf.Machine(binary.BigEndian.Uint16(h[18:]))
	default:
		return false
	}
	return class == want.class && data == want.data && machine == want.machine
}

// cacheLookup returns the paths /etc/ld.so.cache gives for name, best
// first, for a requester of this class and machine.
func (c *closureBuilder) cacheLookup(name string, want *elfObjectInfo) []string {
	if !c.ldCacheLoaded {
		c.ldCacheLoaded = true
		// A missing or damaged cache is ignored, as the loader ignores it.
		if b, err := os.ReadFile("/etc/ld.so.cache"); err == nil {
			c.ldCache, _ = parseLdsoCache(b)
		}
	}
	if c.ldCache == nil {
		return nil
	}
	return c.ldCache.lookup(name, want.class, want.machine)
}

// readELFObject reads what the loader needs from the file p: the program
// headers, PT_INTERP and the dynamic segment. It goes by program headers,
// not sections, as the loader does, so stripped section tables do not
// matter. nil, nil for a file that is not ELF.
func readELFObject(p string) (*elfObjectInfo, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var magic [4]byte
	if _, err := f.ReadAt(magic[:], 0); err != nil || string(magic[:]) != elf.ELFMAG {
		return nil, nil
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	info := &elfObjectInfo{class: ef.Class, data: ef.Data, machine: ef.Machine}
	if ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN {
		return info, nil // objects and core files load nothing
	}
	var dyn *elf.Prog
	for _, prog := range ef.Progs {
		switch prog.Type {
		case elf.PT_INTERP:
			b, err := closureReadProg(prog, 4096)
			if err != nil {
				return nil, fmt.Errorf("%s: PT_INTERP: %w", p, err)
			}
			if i := bytes.IndexByte(b, 0); i >= 0 {
				b = b[:i]
			}
			info.interp = string(b)
		case elf.PT_DYNAMIC:
			dyn = prog
		}
	}
	if dyn == nil {
		return info, nil // statically linked
	}
	b, err := closureReadProg(dyn, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("%s: PT_DYNAMIC: %w", p, err)
	}
	var (
		needed                []uint64
		soname, rpath, runpat *uint64
		strtab, strsz         uint64
	)
	size := 16
	if ef.Class == elf.ELFCLASS32 {
		size = 8
	}
	for off := 0; off+size <= len(b); off += size {
		var tag, val uint64
		if size == 16 {
			tag, val = ef.ByteOrder.Uint64(b[off:]), ef.ByteOrder.Uint64(b[off+8:])
		} else {
			tag, val = uint64(ef.ByteOrder.Uint32(b[off:])), uint64(ef.ByteOrder.Uint32(b[off+4:]))
		}
		v := val
		// The last entry of a tag wins, as in glibc's l_info.
		switch elf.DynTag(tag) {
		case elf.DT_NULL:
			off = len(b)
		case elf.DT_NEEDED:
			needed = append(needed, val)
		case elf.DT_SONAME:
			soname = &v
		case elf.DT_RPATH:
			rpath = &v
		case elf.DT_RUNPATH:
			runpat = &v
		case elf.DT_STRTAB:
			strtab = val
		case elf.DT_STRSZ:
			strsz = val
		case elf.DT_FLAGS_1:
			info.flags1 = val
		}
	}
	if len(needed) == 0 && soname == nil && rpath == nil && runpat == nil {
		return info, nil
	}
	// DT_STRTAB is an address: find the file offset through PT_LOAD.
	var strs []byte
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	for _, prog := range ef.Progs {
		if prog.Type == elf.PT_LOAD && strtab >= prog.Vaddr && strtab-prog.Vaddr < prog.Filesz {
			n := min(strsz, prog.Filesz-(strtab-prog.Vaddr))
			// The headers' sizes are claims: the buffer is never larger
			// than what the file holds there.
			if off := prog.Off + strtab - prog.Vaddr; off < uint64(fi.Size()) {
				n = min(n, uint64(fi.Size())-off)
			}
			if n > 64<<20 {
				return nil, fmt.Errorf("%s: string table of %d bytes", p, n)
			}
			strs = make([]byte, n)
			if _, err := f.ReadAt(strs, int64(prog.Off+strtab-prog.Vaddr)); err != nil {
				return nil, fmt.Errorf("%s: string table: %w", p, err)
			}
			break
		}
	}
	// Every entry may name the same long string: what is copied out is
	// bounded (a real object's names and paths are a few KiB).
	budget := 1 << 20
	str := func(off uint64) (string, error) {
		if off >= uint64(len(strs)) {
			return "", fmt.Errorf("%s: dynamic string at %d outside the string table", p, off)
		}
		s := strs[off:]
		if i := bytes.IndexByte(s, 0); i >= 0 {
			s = s[:i]
		}
		if budget -= len(s); budget < 0 {
			return "", fmt.Errorf("%s: dynamic strings of more than 1 MiB", p)
		}
		return string(s), nil
	}
	for _, off := range needed {
		s, err := str(off)
		if err != nil {
			return nil, err
		}
		info.needed = append(info.needed, s)
	}
	if soname != nil {
		if info.soname, err = str(*soname); err != nil {
			return nil, err
		}
	}
	if runpat != nil {
		s, err := str(*runpat)
		if err != nil {
			return nil, err
		}
		info.runpath = &s
	} else if rpath != nil {
		// With DT_RUNPATH present, DT_RPATH is ignored.
		s, err := str(*rpath)
		if err != nil {
			return nil, err
		}
		info.rpath = &s
	}
	return info, nil
}

func closureReadProg(prog *elf.Prog, limit uint64) ([]byte, error) {
	if prog.Filesz > limit {
		return nil, fmt.Errorf("segment of %d bytes", prog.Filesz)
	}
	b := make([]byte, prog.Filesz)
	if _, err := io.ReadFull(prog.Open(), b); err != nil {
		return nil, err
	}
	return b, nil
}

// ldsoCache is a parsed /etc/ld.so.cache (glibc's elf/cache.c and
// sysdeps/generic/dl-cache.h).
type ldsoCache struct {
	entries []ldsoCacheEntry // in file order: sorted, best first
}

type ldsoCacheEntry struct {
	flags      uint32
	key, value string // soname, path
	hwcap      uint64
}

const (
	ldsoCacheOldMagic = "ld.so-1.7.0"
	ldsoCacheNewMagic = "glibc-ld.so.cache1.1"
	// struct cache_file: magic[11], nlibs (uint32 at 12); entries of
	// {int32 flags; uint32 key, value}.
	ldsoCacheOldHeader = 16
	ldsoCacheOldEntry  = 12
	// struct cache_file_new: magic[17] version[3] nlibs len_strings
	// flags(u8) pad[3] extension_offset unused[3]; entries of
	// {int32 flags; uint32 key, value, osversion; uint64 hwcap}.
	ldsoCacheNewHeader = 48
	ldsoCacheNewEntry  = 24
)

// parseLdsoCache reads both layouts: the new format alone (glibc ≥ 2.32's
// default), and the old format followed by the new one (older ldconfig's
// "compat"), where the new part starts at the next 8- (or, from a 32-bit
// ldconfig, 4-) byte boundary after the old entries. The old format alone
// is read too.
func parseLdsoCache(b []byte) (*ldsoCache, error) {
	if bytes.HasPrefix(b, []byte(ldsoCacheNewMagic)) {
		return parseLdsoCacheNew(b)
	}
	if !bytes.HasPrefix(b, []byte(ldsoCacheOldMagic)) {
		return nil, errors.New("ld.so.cache: unknown format")
	}
	if len(b) < ldsoCacheOldHeader {
		return nil, errors.New("ld.so.cache: truncated")
	}
	n := uint64(binary.NativeEndian.Uint32(b[12:]))
	end := ldsoCacheOldHeader + n*ldsoCacheOldEntry
	if end > uint64(len(b)) {
		return nil, errors.New("ld.so.cache: truncated")
	}
	for _, align := range []uint64{8, 4} {
		off := (end + align - 1) &^ (align - 1)
		if off < uint64(len(b)) && bytes.HasPrefix(b[off:], []byte(ldsoCacheNewMagic)) {
			return parseLdsoCacheNew(b[off:])
		}
	}
	// Old format only: strings follow the entries.
	strs := b[end:]
	c := &ldsoCache{}
	for i := uint64(0); i < n; i++ {
		e := b[ldsoCacheOldHeader+i*ldsoCacheOldEntry:]
		key, ok1 := ldsoCacheString(strs, binary.NativeEndian.Uint32(e[4:]))
		value, ok2 := ldsoCacheString(strs, binary.NativeEndian.Uint32(e[8:]))
		if !ok1 || !ok2 {
			return nil, errors.New("ld.so.cache: string outside the file")
		}
		c.entries = append(c.entries, ldsoCacheEntry{flags: binary.NativeEndian.Uint32(e), key: key, value: value})
	}
	return c, nil
}

// parseLdsoCacheNew reads the new format from b, which starts at its
// header; string offsets count from that header.
func parseLdsoCacheNew(b []byte) (*ldsoCache, error) {
	if len(b) < ldsoCacheNewHeader {
		return nil, errors.New("ld.so.cache: truncated")
	}
	var bo binary.ByteOrder = binary.NativeEndian
	switch b[28] {
	case 2:
		bo = binary.LittleEndian
	case 3:
		bo = binary.BigEndian
	}
	n := uint64(bo.Uint32(b[20:]))
	if ldsoCacheNewHeader+n*ldsoCacheNewEntry > uint64(len(b)) {
		return nil, errors.New("ld.so.cache: truncated")
	}
	c := &ldsoCache{}
	for i := uint64(0); i < n; i++ {
		e := b[ldsoCacheNewHeader+i*ldsoCacheNewEntry:]
		key, ok1 := ldsoCacheString(b, bo.Uint32(e[4:]))
		value, ok2 := ldsoCacheString(b, bo.Uint32(e[8:]))
		if !ok1 || !ok2 {
			return nil, errors.New("ld.so.cache: string outside the file")
		}
		c.entries = append(c.entries, ldsoCacheEntry{
			flags: bo.Uint32(e), key: key, value: value, hwcap: bo.Uint64(e[16:]),
		})
	}
	return c, nil
}

// ldsoCacheString returns the string at off. One longer than PATH_MAX
// (no soname or path the loader opens is) is refused: a crafted cache
// whose entries all name one long string would be copied per entry.
func ldsoCacheString(b []byte, off uint32) (string, bool) {
	if uint64(off) >= uint64(len(b)) {
		return "", false
	}
	s := b[off:]
	i := bytes.IndexByte(s[:min(len(s), 4096)], 0)
	if i < 0 {
		return "", false
	}
	return string(s[:i]), true
}

// lookup returns the paths of the entries for name that a requester of
// this class and machine accepts, in cache order. Entries with hwcap bits
// (glibc-hwcaps subdirectories, legacy hwcaps) are skipped: see the file
// comment.
func (c *ldsoCache) lookup(name string, class elf.Class, machine elf.Machine) []string {
	var out []string
	for _, e := range c.entries {
		if e.key == name && e.hwcap == 0 && ldsoCacheFlagsFit(e.flags, class, machine) {
			out = append(out, e.value)
		}
	}
	return out
}

// ldsoCacheFlagsFit is glibc's _dl_cache_check_flags: FLAG_ELF (1), or
// FLAG_ELF_LIBC6 (3) with the machine's FLAG_*_LIB* bits. For a machine not
// in the table any libc6 entry is accepted; the ELF header is checked after.
func ldsoCacheFlagsFit(flags uint32, class elf.Class, machine elf.Machine) bool {
	if flags == 1 {
		return true
	}
	if flags&0xff != 3 {
		return false
	}
	a, ok := closureArches[closureArchKey{class, machine}]
	if !ok || a.cacheReq == nil {
		return true
	}
	return slices.Contains(a.cacheReq, flags&0xff00)
}
