package image

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestSpecTypes: every document Write makes decodes strictly into
// image-spec's own Go types (an unknown field, a misspelt key, fails) and
// encodes back from them to the same bytes (the same names in the same
// order, nothing dropped): nsup's small structs write what image-spec's
// would. The digests are go-digest's reading of them.
func TestSpecTypes(t *testing.T) {
	tree := t.TempDir()
	os.WriteFile(filepath.Join(tree, "a"), []byte("a"), 0o644)
	dir := t.TempDir()
	created := time.Unix(1700000000, 0).UTC()
	img := Image{Ref: "localhost/nsup/p/e:latest", Tree: tree, Owners: Squash, Created: created, Architecture: "amd64",
		Config: ImageConfig{User: "1:2", ExposedPorts: ExposedPorts([]string{"80/tcp"}), Env: []string{"A=1"},
			Entrypoint: []string{"/bin/sh", "-c", "x"}, Cmd: []string{"y"}, WorkingDir: "/w",
			Labels: map[string]string{AnnotationTitle: "e"}, StopSignal: "SIGTERM"}}
	desc, err := Write(dir, img)
	if err != nil {
		t.Fatal(err)
	}
	same := func(name string, b []byte, v any) {
		t.Helper()
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Fatalf("%s: image-spec's types refuse it: %v\n%s", name, err, b)
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, b) {
			t.Errorf("%s: image-spec's types write\n%s\nnsup wrote\n%s", name, again, b)
		}
	}
	read := func(d digest.Digest) []byte {
		t.Helper()
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "blobs", d.Algorithm().String(), d.Encoded()))
		if err != nil {
			t.Fatal(err)
		}
		if digest.FromBytes(b) != d {
			t.Fatalf("blob %s: go-digest reads %s", d, digest.FromBytes(b))
		}
		return b
	}
	b, _ := os.ReadFile(filepath.Join(dir, v1.ImageIndexFile))
	var idx v1.Index
	same("index.json", b, &idx)
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != digest.Digest(desc.Digest) || idx.Manifests[0].Annotations[v1.AnnotationRefName] != img.Ref ||
		idx.MediaType != v1.MediaTypeImageIndex || idx.Manifests[0].MediaType != v1.MediaTypeImageManifest {
		t.Fatalf("index.json: %s", b)
	}
	var m v1.Manifest
	same("manifest", read(idx.Manifests[0].Digest), &m)
	if m.Config.MediaType != v1.MediaTypeImageConfig || len(m.Layers) != 1 || m.Layers[0].MediaType != v1.MediaTypeImageLayer {
		t.Fatalf("manifest: %+v", m)
	}
	var c v1.Image
	same("config", read(m.Config.Digest), &c)
	read(m.Layers[0].Digest)
	if c.Config.User != "1:2" || c.Config.WorkingDir != "/w" || c.Config.StopSignal != "SIGTERM" || len(c.Config.Cmd) != 1 ||
		c.RootFS.DiffIDs[0] != m.Layers[0].Digest || !c.Created.Equal(created) || c.OS != "linux" || c.Architecture != "amd64" {
		t.Fatalf("config: %+v", c)
	}
	if l, _ := os.ReadFile(filepath.Join(dir, v1.ImageLayoutFile)); string(l) != `{"imageLayoutVersion":"`+v1.ImageLayoutVersion+`"}` {
		t.Fatalf("oci-layout: %s", l)
	}
	for _, d := range []Digest{"sha256:" + Digest(bytes.Repeat([]byte("a"), 64)), "sha256:../../x", "sha512:" + Digest(bytes.Repeat([]byte("a"), 64)), "sha256:" + Digest(bytes.Repeat([]byte("A"), 64))} {
		if err, want := d.Validate(), digest.Digest(d).Validate() == nil && d[:7] == "sha256:" && bytes.Equal(bytes.ToLower([]byte(d)), []byte(d)); (err == nil) != want {
			t.Errorf("%s: Validate says %v; go-digest and sha256 lowercase say valid=%v", d, err, want)
		}
	}
}
