// Package store keeps published bundles on disk for the peerd daemon: it
// receives a bundle's tar.gz archive in resumable pieces, checks its SHA-256
// end to end, unpacks it safely, and swaps it in atomically so that readers
// see the old or the new bundle, never a mix.
//
// Layout under the data directory:
//
//	bundles/NAME.tar.gz       the committed archive, served to fetchers
//	bundles/NAME.json         its metadata (Info)
//	sites/NAME                symlink to the unpacked tree now served
//	versions/NAME.SEQ/        unpacked trees (the old one is removed after a swap)
//	partial/ID.part, ID.json  uploads in progress with their offset and running hash
//
// A Store is safe for concurrent use by many goroutines.
package store
