// Package store is nsup's store of root trees: the part of apply (spec →
// plan → apply) that makes a plan's rootfs step true on disk, and what
// nsup cache and nsup export use of it.
//
//   - cache.go: the content-addressed cache (CACHE/closure/HEX,
//     CACHE/tar/HEX): an entry is built once, in a temporary sibling
//     renamed into place, under a build lock (HEX.build); an entry in use
//     is held share-locked for as long as its environment runs, so that
//     PruneCache never removes it; ListCache and PruneCache serve nsup
//     cache ls and prune; the digest index (planner.Index) is written
//     here.
//   - rootfs.go: Rootfs, the rootfs step itself (executor.Apply calls it):
//     a dir used as it is, a closure copied from the plan's file list
//     (every byte checked against its digest), a tar archive unpacked;
//     BuildTree and PrepareRootfs for nsup export.
//   - tar.go: the unpacker. It creates exactly the members that
//     planner.WalkTar hands it (the walker nsup lock's listing,
//     planner.TarFiles, takes them from too), each relative to a folder
//     fd resolved with openat2(2) RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, so
//     that nothing is followed and nothing is written outside the tree.
//   - resolve.go: paths resolved inside a tree with openat2(2)
//     RESOLVE_IN_ROOT, for closure trees here (the child stage's raw
//     resolver in package executor walks a root the same way).
//
// The planner decides what a tree holds and never writes; this package
// writes it and decides nothing. It imports planner (the plan's types,
// the digest index, the tar walker) and internal/fserr (which quotes the
// names of a tree's files in its errors), nothing else of nsup's; it
// never prints, and never exits.
package store
