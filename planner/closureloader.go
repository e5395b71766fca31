package planner

// The dynamic loader simulated: the interpreter and libraries an ELF program needs, searched for as ld.so does.
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
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

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
		ireal, err := c.library(info.interp)
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
			lreal, err := c.library(found)
			if err != nil {
				return fmt.Errorf("library %s needed by %s: %w", name, o.path, err)
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

// library resolves found, a library or program interpreter an ELF file
// of the closure names, listing it. Its path is the ELF file's word, and
// whoever wrote that file may not read what nsup, as root, can: a file
// that is not readable by all is refused, unless the spec names it in
// closure itself. It is looked up without listing first, then resolved,
// and refused if it led elsewhere the second time.
func (c *closureBuilder) library(found string) (string, error) {
	lreal, mode, err := c.lookup(found)
	if err != nil {
		return "", err
	}
	if os.Geteuid() == 0 && mode.Perm()&0o004 == 0 && !c.isNamed(lreal) {
		return "", fmt.Errorf("%s is not readable by all (mode %04o): name it in closure itself to copy it", lreal, mode.Perm())
	}
	again, _, err := c.resolve(found)
	if err != nil {
		return "", err
	}
	if again != lreal {
		return "", fmt.Errorf("%s led to %s, then to %s: changed while the closure was made", found, lreal, again)
	}
	return again, nil
}

// isNamed says whether the spec names real, or a folder it is in (copied
// whole).
func (c *closureBuilder) isNamed(real string) bool {
	for p := real; ; p = filepath.Dir(p) {
		if c.named[p] {
			return true
		}
		if p == "/" {
			return false
		}
	}
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
