package planner

// What /etc/subuid and /etc/subgid grant the caller, read as shadow-utils'
// newuidmap and newgidmap read them (shadow 4.13, lib/subordinateio.c:
// find_range, have_range; lib/commonio.c): helper-115 found that the
// plan took a grant line by the caller's name or uid only and a range
// inside one line only, while newuidmap also takes a line of another
// login name of the caller's uid and a range over several lines that
// follow one another, and that a missing file was taken as no grant.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// IDRange is a range of host ids a subordinate id file grants:
// First, First+1, ..., First+Count-1, in shadow's unsigned long
// arithmetic (a line's last id is First+Count-1, wrapping).
type IDRange struct {
	First, Count uint64
}

// hostFiles are the files CurrentCaller reads for the subordinate ids;
// tests read others.
type hostFiles struct {
	passwd, subuid, subgid, nsswitch, group string
}

var etcFiles = hostFiles{"/etc/passwd", "/etc/subuid", "/etc/subgid", "/etc/nsswitch.conf", "/etc/group"}

// readSubIDs fills in the caller's login name, its subordinate ids and
// where they come from, each file read once.
func (c *Caller) readSubIDs(f hostFiles) {
	names := passwdNames(f.passwd)
	for _, n := range names {
		if n.uid == c.UID {
			c.Name = n.name
			break
		}
	}
	c.SubUIDs, c.SubUIDErr = subIDs(f.subuid, c.Name, c.UID, names)
	c.SubGIDs, c.SubGIDErr = subIDs(f.subgid, c.Name, c.UID, names)
	c.SubIDModule = subidModule(f.nsswitch)
	if m := passwdModules(f.nsswitch); c.Name == "" && m != "" {
		// newuidmap finds the caller by getpwuid, through NSS: a user
		// of sssd, LDAP or systemd-homed has no line in /etc/passwd
		// and a login name all the same. Before helper-120's review
		// the plan took such a caller for one newuidmap fails, and
		// refused its idmap, which its "UID:FIRST:COUNT" line of
		// /etc/subuid let it map before helper-115's change and at
		// apply.
		err := fmt.Errorf("uid %d has no line in %s, and nsswitch.conf's passwd: names %s (which newuidmap asks for its login name, and nsup does not read)", c.UID, f.passwd, m)
		c.SubUIDs, c.SubUIDErr = nil, err
		c.SubGIDs, c.SubGIDErr = nil, err
	}
}

// passwdModules are the NSS modules other than files that
// nsswitch.conf's "passwd:" line names, "" for none.
func passwdModules(file string) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		key, rest, ok := strings.Cut(l, ":")
		if !ok || strings.TrimSpace(key) != "passwd" {
			continue
		}
		rest, _, _ = strings.Cut(rest, "#")
		var mods []string
		for _, f := range strings.Fields(rest) {
			if f != "files" && f != "compat" && !strings.HasPrefix(f, "[") {
				mods = append(mods, f)
			}
		}
		return strings.Join(mods, " ")
	}
	return ""
}

type passwdName struct {
	name     string
	uid, gid uint32
}

// passwdNames are the login names of the passwd file, in its order.
func passwdNames(file string) []passwdName {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var out []passwdName
	for _, l := range strings.Split(string(b), "\n") {
		p := strings.Split(l, ":")
		if len(p) < 3 || p[0] == "" {
			continue
		}
		if uid, err := strconv.ParseUint(p[2], 10, 32); err == nil {
			n := passwdName{name: p[0], uid: uint32(uid), gid: ^uint32(0)}
			if len(p) > 3 {
				if gid, err := strconv.ParseUint(p[3], 10, 32); err == nil {
					n.gid = uint32(gid)
				}
			}
			out = append(out, n)
		}
	}
	return out
}

// subIDs reads the lines of file (subuid(5): "OWNER:FIRST:COUNT") that
// are the caller's, in the order newuidmap searches them: those of its
// login name, then those whose owner is its uid in digits or another
// login name of its uid (getpwnam: the passwd file's first entry of that
// name). Lines are read as shadow's commonio and subordinate_parse read
// them: a line starting with + or - is skipped, the third field ends at
// the next colon, the numbers are strtoul's (decimal, 0x hex, 0 octal).
// The error is the file's, opened as newuidmap opens it (O_NOFOLLOW:
// a symbolic link is ELOOP).
func subIDs(file, name string, uid uint32, names []passwdName) ([]IDRange, error) {
	lines, err := readSubIDLines(file)
	if err != nil {
		return nil, err
	}
	uidOf := map[string]uint32{}
	for _, n := range names {
		if _, ok := uidOf[n.name]; !ok {
			uidOf[n.name] = n.uid
		}
	}
	digits := strconv.FormatUint(uint64(uid), 10)
	var byName, byUID []IDRange
	for _, l := range lines {
		if name != "" && l.owner == name {
			byName = append(byName, l.IDRange)
		}
		if u, known := uidOf[l.owner]; l.owner == digits || known && u == uid {
			byUID = append(byUID, l.IDRange)
		}
	}
	if name == "" {
		// newuidmap finds no login name of the caller (and fails).
		byUID = nil
	}
	return append(byName, byUID...), nil
}

// ownedRange is a line of a subordinate id file: its owner and range.
type ownedRange struct {
	owner string
	IDRange
}

// subIDLines are the lines of file that grant a range (none if it cannot
// be read).
func subIDLines(file string) []ownedRange {
	lines, _ := readSubIDLines(file)
	return lines
}

// readSubIDLines reads file's grant lines, in its order, as newuidmap
// reads them (see subIDs).
func readSubIDLines(file string) ([]ownedRange, error) {
	if fi, err := os.Lstat(file); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, &fs.PathError{Op: "open", Path: file, Err: syscall.ELOOP}
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []ownedRange
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4096), 1<<20)
	// Lines end at "\n" only, as commonio's (fgets, then the newline
	// cut): ScanLines also drops a "\r" before it, and a file of CRLF
	// lines, none of which newuidmap takes (strtoul ends at the "\r"),
	// planned and failed at apply before helper-120's review.
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			return i + 1, data[:i], nil
		}
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	})
	for sc.Scan() {
		if owner, r, ok := subIDLine(sc.Text()); ok {
			out = append(out, ownedRange{owner, r})
		}
	}
	return out, sc.Err()
}

// subIDLine parses one line as shadow's subordinate_parse does.
func subIDLine(line string) (owner string, r IDRange, ok bool) {
	if len(line) >= 1024 || strings.HasPrefix(line, "+") || strings.HasPrefix(line, "-") {
		return "", r, false
	}
	p := strings.SplitN(line, ":", 4)
	if len(p) < 3 || p[0] == "" || p[1] == "" || p[2] == "" {
		return "", r, false
	}
	first, ok1 := strtoul(p[1])
	count, ok2 := strtoul(p[2])
	if !ok1 || !ok2 {
		return "", r, false
	}
	return p[0], IDRange{first, count}, true
}

// strtoul is shadow's getulong: strtoul(3) with base 0 (leading blanks,
// a sign, 0x for hex, 0 for octal) over the whole string, no overflow.
func strtoul(s string) (uint64, bool) {
	i := 0
	for i < len(s) && strings.IndexByte(" \t\n\v\f\r", s[i]) >= 0 {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	base := uint64(10)
	switch {
	case i+2 < len(s) && s[i] == '0' && s[i+1]|0x20 == 'x' && digit(s[i+2]) < 16:
		base, i = 16, i+2
	case i < len(s) && s[i] == '0':
		base = 8
	}
	if i == len(s) {
		return 0, false
	}
	var v uint64
	for ; i < len(s); i++ {
		d := digit(s[i])
		if d >= base {
			return 0, false
		}
		if v > (math.MaxUint64-d)/base {
			return 0, false // ERANGE
		}
		v = v*base + d
	}
	if neg {
		v = -v
	}
	return v, true
}

func digit(c byte) uint64 {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0')
	case c|0x20 >= 'a' && c|0x20 <= 'z':
		return uint64(c|0x20-'a') + 10
	}
	return 99
}

// subidModule is the NSS module nsswitch.conf's "subid:" line names for
// the subordinate ids ("" for none, or files): newuidmap then asks it,
// not /etc/subuid (shadow's nss_init).
func subidModule(file string) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if len(l) < 7 || !strings.EqualFold(l[:6], "subid:") {
			continue
		}
		if f := strings.Fields(l[6:]); len(f) > 0 {
			if f[0] == "files" {
				return ""
			}
			return f[0]
		}
	}
	return ""
}

// granted is shadow's have_range: every id of start..start+count-1 is in
// one of the caller's lines (found as find_range finds them, in order).
func granted(lines []IDRange, start, count uint64) bool {
	if count == 0 {
		return false
	}
	find := func(v uint64) (IDRange, bool) {
		for _, r := range lines {
			if v >= r.First && v <= r.First+r.Count-1 {
				return r, true
			}
		}
		return IDRange{}, false
	}
	end := start + count - 1
	for r, ok := find(start); ok; r, ok = find(start) {
		last := r.First + r.Count - 1
		if last >= end {
			return true
		}
		start = last + 1
	}
	return false
}

// subIDsMissing says why newuidmap could not open file (err, nsup's
// open as newuidmap's), so refusing every map; "" when nsup could not
// read a file newuidmap (setuid root) may: the plan then does not check
// the ranges.
func subIDsMissing(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "is missing"
	case errors.Is(err, syscall.ELOOP):
		return "is a symbolic link (the helper opens it O_NOFOLLOW)"
	}
	return ""
}

// rangeText is "FIRST-LAST" of a range.
func rangeText(r IDRange) string {
	return fmt.Sprintf("%d-%d", r.First, r.First+r.Count-1)
}
