// Package image writes an environment as an OCI image (image-spec 1.x):
// its resolved root tree as one layer, and its main process as the image
// config (entrypoint, env, working dir, user, exposed ports, labels). An
// image layout folder (Write), or that folder as one tar (Archive), which
// podman load and skopeo copy oci-archive: read.
//
// Reproducible: the same tree and config give the same bytes, so the same
// digest. Entries are sorted, every time is Created (SOURCE_DATE_EPOCH, or
// 1970), no user or group names are written, owners are as the
// environment sees them (Owners), and the layer is an uncompressed tar (a
// gzip stream's bytes depend on the compressor's version; registries and
// podman take uncompressed layers as they are).
//
// The documents are small structs of nsup's own (oci.go) with
// image-spec's JSON names and order, and the digests sha256 by hand:
// image-spec's Go types carry go-digest's Digest, whose package compiles
// regular expressions as every nsup command starts (0.16 ms of each
// start). The tests decode every document strictly into image-spec's own
// types and check the digests with go-digest. The tar is written with
// archive/tar from a tree nsup built, since no library makes a layer from
// a folder with these rules (go-containerregistry's tarball layers start
// from a tar, and its config types are its own, not image-spec's).
//
// It imports nothing of nsup's but internal/fserr (which quotes the
// tree's file names in errors, and imports nothing of nsup's): cmd/nsup
// builds the tree (as for a bundle) and the config (from planner/oci's),
// and calls Write and Archive.
package image
