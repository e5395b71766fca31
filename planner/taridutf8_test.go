package planner

import (
	"bytes"
	"io"
	"reflect"
	"testing"
)

// TestTarIDRecordBytes: an archive's names and link targets are bytes,
// not UTF-8: the identity record read back from its side file has the
// same nodes as the one the walk made, and reads the same passwd and
// group (JSON turned every invalid byte into U+FFFD, so that two
// names of the archive became one and group was read from passwd's
// file).
func TestTarIDRecordBytes(t *testing.T) {
	var etc TarEtc
	for _, m := range []struct {
		m    TarMember
		body string
	}{
		{TarMember{Name: "etc", Type: TarDir, Mode: 0o755}, ""},
		{TarMember{Name: "etc/passwd", Type: TarSymlink, Link: "/\xff", Mode: 0o777}, ""},
		{TarMember{Name: "etc/group", Type: TarSymlink, Link: "/\xfe", Mode: 0o777}, ""},
		{TarMember{Name: "\xfe", Type: TarFile, Mode: 0o644, Size: int64(len(tarIDGroup))}, tarIDGroup},
		{TarMember{Name: "\xff", Type: TarFile, Mode: 0o644, Size: int64(len(tarIDPasswd))}, tarIDPasswd},
	} {
		r, err := etc.Add(m.m, bytes.NewReader([]byte(m.body)))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, r)
	}
	if len(etc.missing()) > 0 {
		t.Fatalf("missing: %v", etc.missing())
	}
	rec := etc.record()
	if rec == nil {
		t.Fatal("no record")
	}
	back := decodeTarID(rec.encode())
	if back == nil {
		t.Fatal("the side file does not read back")
	}
	if !reflect.DeepEqual(back.nodes, rec.nodes) {
		t.Errorf("nodes read back:\n%+v\nwant\n%+v", back.nodes, rec.nodes)
	}
	for _, p := range []string{"/\xff", "/\xfe"} {
		got, err1 := back.read(p)
		want, err2 := rec.read(p)
		if got != want || (err1 == nil) != (err2 == nil) {
			t.Errorf("%q read back: %q %v, want %q %v", p, got, err1, want, err2)
		}
	}
}
