package image

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"time"
)

// The image-spec 1.1 documents nsup writes and reads back, as small
// structs of its own: the fields it uses, with image-spec's JSON names and
// order (TestSpecTypes checks every document against image-spec's own Go
// types, which only the tests link). Not image-spec's types themselves:
// they carry go-digest's Digest, whose package compiles regular
// expressions when any nsup command starts (0.16 ms of every start, for a
// type only `export --image` uses).

// Media types, file names and annotation keys of image-spec.
const (
	MediaTypeImageIndex    = "application/vnd.oci.image.index.v1+json"
	MediaTypeImageManifest = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeImageConfig   = "application/vnd.oci.image.config.v1+json"
	MediaTypeImageLayer    = "application/vnd.oci.image.layer.v1.tar"
	ImageIndexFile         = "index.json"
	ImageLayoutFile        = "oci-layout"
	AnnotationRefName      = "org.opencontainers.image.ref.name"
	AnnotationTitle        = "org.opencontainers.image.title"
)

// Digest is "sha256:" and 64 lowercase hex digits, the only algorithm nsup
// writes.
type Digest string

// FromBytes is b's sha256 digest.
func FromBytes(b []byte) Digest {
	s := sha256.Sum256(b)
	return Digest("sha256:" + hex.EncodeToString(s[:]))
}

// digestOf is the digest of what was written to h, a sha256 hash.
func digestOf(h hash.Hash) Digest { return Digest("sha256:" + hex.EncodeToString(h.Sum(nil))) }

// Encoded is the hex part, a blob's file name under blobs/sha256.
func (d Digest) Encoded() string { return string(d[len("sha256:"):]) }

// Validate refuses anything but a sha256 digest: a descriptor read back
// names a path under blobs/, so nothing else may reach it.
func (d Digest) Validate() error {
	s := string(d)
	if len(s) != len("sha256:")+64 || s[:len("sha256:")] != "sha256:" {
		return fmt.Errorf("digest %q: not sha256:HEX", s)
	}
	for _, c := range s[len("sha256:"):] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("digest %q: not sha256:HEX", s)
		}
	}
	return nil
}

// Descriptor is image-spec's descriptor.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      Digest            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *Platform         `json:"platform,omitempty"`
}

// Platform is image-spec's platform.
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// ImageConfig is the config's "config": how to run the image.
type ImageConfig struct {
	User         string              `json:"User,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Env          []string            `json:"Env,omitempty"`
	Entrypoint   []string            `json:"Entrypoint,omitempty"`
	Cmd          []string            `json:"Cmd,omitempty"`
	WorkingDir   string              `json:"WorkingDir,omitempty"`
	Labels       map[string]string   `json:"Labels,omitempty"`
	StopSignal   string              `json:"StopSignal,omitempty"`
}

// RootFS lists the layers' diff IDs.
type RootFS struct {
	Type    string   `json:"type"`
	DiffIDs []Digest `json:"diff_ids"`
}

// History is one entry of the config's history.
type History struct {
	Created   *time.Time `json:"created,omitempty"`
	CreatedBy string     `json:"created_by,omitempty"`
	Comment   string     `json:"comment,omitempty"`
}

// Config is the image config blob.
type Config struct {
	Created *time.Time `json:"created,omitempty"`
	Platform
	Config  ImageConfig `json:"config,omitempty"`
	RootFS  RootFS      `json:"rootfs"`
	History []History   `json:"history,omitempty"`
}

// Manifest is an image manifest.
type Manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType,omitempty"`
	Config        Descriptor   `json:"config"`
	Layers        []Descriptor `json:"layers"`
}

// Index is index.json.
type Index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType,omitempty"`
	Manifests     []Descriptor `json:"manifests"`
}
