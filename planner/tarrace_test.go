package planner

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestTarSwappedAfterCheck: a tar root's archive is hashed where the
// planted-link check found it, not looked up again. The check, and the
// plan's first look at the path, saw a regular file in the writable
// project; root inside, in a running environment, swapped a link to a
// host archive in before the hash: the plan hashed the host's archive,
// and apply, following the same link, unpacked it as the environment's
// root (a backup of /etc, /root). The archive is now hashed through the
// plan's resolution of its path, RESOLVE_NO_SYMLINKS: a link there is
// refused.
func TestTarSwappedAfterCheck(t *testing.T) {
	d := t.TempDir()
	proj := filepath.Join(d, "proj")
	os.MkdirAll(proj, 0o755)
	tarPath := filepath.Join(proj, "rootfs.tar")
	os.WriteFile(tarPath, make([]byte, 1024), 0o644)
	secret := filepath.Join(d, "host-backup.tar")
	secretBytes := append([]byte("host secret"), make([]byte, 1024)...)
	os.WriteFile(secret, secretBytes, 0o600)
	sum := sha256.Sum256(secretBytes)
	secretDigest := "sha256:" + hex.EncodeToString(sum[:])
	env := &spec.Environment{Name: "dev", Rootfs: spec.Rootfs{Tar: tarPath, Overlay: true}, Mounts: []spec.Mount{
		{Type: spec.MountBind, Source: proj, Target: "/src"},
	}}
	s := &spec.Spec{File: "nsup.yaml", Environments: []*spec.Environment{env}}
	c := &compiler{s: s, opts: Options{CacheDir: filepath.Join(d, "cache"), Index: NewIndex(filepath.Join(d, "cache"))}}
	ec := &envCompiler{compiler: c, e: env, field: "environments.dev"}
	// The plan's first look: a regular file.
	c.writableFolders()
	c.hostDir(tarPath)
	// Swapped for a link to the host's archive before the hash.
	os.Remove(tarPath)
	os.Symlink(secret, tarPath)
	ec.rootfs()
	for _, st := range ec.steps {
		if r, ok := st.Op.(Rootfs); ok && r.Digest == secretDigest {
			t.Errorf("the plan hashed the host's archive %s through the link swapped in: apply would unpack it", secret)
		}
	}
	if len(ec.errs) == 0 {
		t.Errorf("no error for the archive swapped for a link")
	}
}
