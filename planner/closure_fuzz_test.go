package planner

import (
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// FuzzReadELFObject: no crafted ELF file makes the parser panic.
func FuzzReadELFObject(f *testing.F) {
	for _, p := range []string{"/bin/sh", "/bin/true"} {
		if b, err := os.ReadFile(p); err == nil && len(b) < 4<<20 {
			f.Add(b[:min(len(b), 64<<10)])
		}
	}
	f.Add([]byte("\x7fELF"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "obj")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		readELFObject(p)
	})
}

// FuzzParseLdsoCache: no crafted /etc/ld.so.cache makes the parser panic.
func FuzzParseLdsoCache(f *testing.F) {
	f.Add(buildLdsoCache(false, []ldsoCacheEntry{{flags: 0x0303, key: "a.so", value: "/a.so"}}))
	f.Add(buildLdsoCache(true, []ldsoCacheEntry{{flags: 0x0303, key: "a.so", value: "/a.so"}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := parseLdsoCache(b); err == nil {
			c.lookup("a.so", 2, 62)
		}
	})
}

// craftELF returns a 64-bit little-endian ET_DYN whose dynamic segment has
// needed DT_NEEDED entries, all naming offset 0 of a string table of
// strLen bytes ('a'..., then NUL), and whose PT_LOAD claims loadSize bytes.
func craftELF(needed, strLen int, loadSize uint64) []byte {
	le := binary.LittleEndian
	const ehdr, phdr = 64, 56
	dynOff := ehdr + 2*phdr
	dynLen := (needed + 3) * 16
	strOff := dynOff + dynLen
	b := make([]byte, strOff+strLen+1)
	copy(b, elf.ELFMAG)
	b[4], b[5], b[6] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	le.PutUint16(b[16:], uint16(elf.ET_DYN))
	le.PutUint16(b[18:], uint16(elf.EM_X86_64))
	le.PutUint32(b[20:], uint32(elf.EV_CURRENT))
	le.PutUint64(b[32:], ehdr) // e_phoff
	le.PutUint16(b[52:], ehdr) // e_ehsize
	le.PutUint16(b[54:], phdr) // e_phentsize
	le.PutUint16(b[56:], 2)    // e_phnum
	if loadSize == 0 {
		loadSize = uint64(len(b))
	}
	ph := func(i int, typ elf.ProgType, off, size uint64) {
		p := b[ehdr+i*phdr:]
		le.PutUint32(p[0:], uint32(typ))
		le.PutUint64(p[8:], off)   // p_offset
		le.PutUint64(p[16:], off)  // p_vaddr
		le.PutUint64(p[32:], size) // p_filesz
		le.PutUint64(p[40:], size) // p_memsz
	}
	ph(0, elf.PT_LOAD, 0, loadSize)
	ph(1, elf.PT_DYNAMIC, uint64(dynOff), uint64(dynLen))
	d := b[dynOff:]
	for i := 0; i < needed; i++ {
		le.PutUint64(d[16*i:], uint64(elf.DT_NEEDED))
	}
	le.PutUint64(d[16*needed:], uint64(elf.DT_STRTAB))
	le.PutUint64(d[16*needed+8:], uint64(strOff))
	le.PutUint64(d[16*needed+16:], uint64(elf.DT_STRSZ))
	le.PutUint64(d[16*needed+24:], uint64(max(uint64(strLen+1), loadSize-uint64(strOff))))
	for i := 0; i < strLen; i++ {
		b[strOff+i] = 'a'
	}
	return b
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestReadELFObjectHostileAllocations: what reading a crafted ELF file
// allocates is bounded by its size, not by what its headers claim or by
// how often its dynamic section names one long string.
func TestReadELFObjectHostileAllocations(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name           string
		needed, strLen int
		load           uint64
	}{
		// 2000 DT_NEEDED naming one 256 KiB string: 512 MiB of copies.
		{"repeated long string", 2000, 256 << 10, 0},
		// A 1 KiB file whose PT_LOAD claims 60 MiB: the string table's
		// buffer must not be sized by the header.
		{"claimed string table", 1, 16, 60 << 20},
	} {
		p := filepath.Join(dir, "obj")
		b := craftELF(tc.needed, tc.strLen, tc.load)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		var err error
		n := allocated(func() { _, err = readELFObject(p) })
		if limit := uint64(8*len(b)) + 4<<20; n > limit {
			t.Errorf("%s: a %d-byte file allocated %d bytes (err %v), want at most %d", tc.name, len(b), n, err, limit)
		}
	}
}

// TestParseLdsoCacheHostileAllocations: a crafted /etc/ld.so.cache whose
// entries all name one long string does not make nsup copy it per entry.
func TestParseLdsoCacheHostileAllocations(t *testing.T) {
	le := binary.LittleEndian
	const n, strLen = 500, 256 << 10
	b := make([]byte, ldsoCacheNewHeader+n*ldsoCacheNewEntry+strLen+1)
	copy(b, ldsoCacheNewMagic)
	le.PutUint32(b[20:], n)
	b[28] = 2
	strOff := uint32(ldsoCacheNewHeader + n*ldsoCacheNewEntry)
	for i := 0; i < n; i++ {
		e := b[ldsoCacheNewHeader+i*ldsoCacheNewEntry:]
		le.PutUint32(e[0:], 0x0303)
		le.PutUint32(e[4:], strOff)
		le.PutUint32(e[8:], strOff)
	}
	for i := 0; i < strLen; i++ {
		b[int(strOff)+i] = 'a'
	}
	var err error
	got := allocated(func() { _, err = parseLdsoCache(b) })
	if limit := uint64(8*len(b)) + 4<<20; got > limit {
		t.Errorf("a %d-byte cache allocated %d bytes (err %v), want at most %d", len(b), got, err, limit)
	}
}

// TestClosureInterpNotELF: a binary whose PT_INTERP names a file that is
// not ELF (the kernel would refuse to run it) does not bring that file,
// say /etc/shadow, into the tree.
func TestClosureInterpNotELF(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("root:$6$hash:::\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	const ehdr, phdr = 64, 56
	b := make([]byte, ehdr+phdr+len(secret)+1)
	copy(b, elf.ELFMAG)
	b[4], b[5], b[6] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	le.PutUint16(b[16:], uint16(elf.ET_EXEC))
	le.PutUint16(b[18:], uint16(elf.EM_X86_64))
	le.PutUint32(b[20:], uint32(elf.EV_CURRENT))
	le.PutUint64(b[32:], ehdr)
	le.PutUint16(b[52:], ehdr)
	le.PutUint16(b[54:], phdr)
	le.PutUint16(b[56:], 1)
	p := b[ehdr:]
	le.PutUint32(p[0:], uint32(elf.PT_INTERP))
	le.PutUint64(p[8:], ehdr+phdr)
	le.PutUint64(p[16:], ehdr+phdr)
	le.PutUint64(p[32:], uint64(len(secret)+1))
	le.PutUint64(p[40:], uint64(len(secret)+1))
	copy(b[ehdr+phdr:], secret)
	bin := filepath.Join(dir, "bin")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := Closure([]string{bin})
	for _, f := range files {
		if f.Path == secret {
			t.Fatalf("the closure holds %s, the PT_INTERP of %s, which is not ELF (err %v)", secret, bin, err)
		}
	}
	if err == nil {
		t.Errorf("no error for a program interpreter that is not ELF")
	}
}
