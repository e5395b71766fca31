package owndir

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// setACL gives dir an access ACL (as setfacl -m u:UID:PERM writes it):
// its mode's owner, group and other bits, a user uid with perm, mask.
func setACL(t *testing.T, dir string, uid uint32, perm, mask uint16) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	b := binary.LittleEndian.AppendUint32(nil, aclVersion)
	for _, e := range []aclEntry{{0x01, uint16(st.Mode >> 6 & 7), ^uint32(0)}, {aclUser, perm, uid},
		{aclGroupOb, uint16(st.Mode >> 3 & 7), ^uint32(0)}, {aclMask, mask, ^uint32(0)}, {0x20, uint16(st.Mode & 7), ^uint32(0)}} {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	if err := unix.Setxattr(dir, aclXattr, b, 0); err != nil {
		t.Fatalf("setxattr %s: %v", dir, err)
	}
}

// TestRootCheckACL (helper-150): a state directory, cache or volume
// folder whose ACL lets another uid write to it (setfacl -m
// u:54321:rwx), or a folder on the way to it whose ACL does, is refused
// as a group's or other's write is: that uid could plant what nsup then
// uses, or put another folder in its place. Only the mode's bits
// counted, which show the ACL's mask (0770 for a 0700 folder), taken for
// root's private group. An entry the mask takes write from (chmod g-w)
// is nobody's write.
func TestRootCheckACL(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root (a folder of root's, an ACL naming another uid)")
	}
	dir := t.TempDir()
	way := filepath.Join(dir, "way")
	own := filepath.Join(way, "own")
	if err := os.MkdirAll(own, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chmod(way, 0o755)
	if err := Check("state directory", own); err != nil {
		t.Fatalf("Check(%s): %v, want nil", own, err)
	}
	setACL(t, own, 54321, 7, 7)
	if err := Check("state directory", own); err == nil || !errors.Is(err, unix.EPERM) || !strings.Contains(err.Error(), "uid 54321 (named in its ACL) may write to it") {
		t.Errorf("Check of a folder whose ACL lets uid 54321 write: %v, want EPERM naming it", err)
	}
	setACL(t, own, 54321, 7, 5)
	if err := Check("state directory", own); err != nil {
		t.Errorf("Check of a folder whose ACL's mask takes uid 54321's write: %v, want nil", err)
	}
	setACL(t, way, 54321, 7, 7)
	if err := Check("state directory", own); err == nil || !strings.Contains(err.Error(), "is in "+way+", which others may change") {
		t.Errorf("Check of a folder in one whose ACL lets uid 54321 write: %v, want refused", err)
	}
}

// TestParseACL: an ACL nsup cannot read is an error, not nobody's write.
func TestParseACL(t *testing.T) {
	for _, b := range [][]byte{nil, {1, 0, 0, 0}, {2, 0, 0, 0, 1}} {
		if _, err := parseACL(b); err == nil {
			t.Errorf("parseACL(%v): no error", b)
		}
	}
	b := []byte{2, 0, 0, 0, 0x02, 0, 7, 0, 0x31, 0xd4, 0, 0}
	if es, err := parseACL(b); err != nil || len(es) != 1 || es[0] != (aclEntry{aclUser, 7, 54321}) {
		t.Errorf("parseACL(%v) = %v, %v", b, es, err)
	}
}
