// Package state records runs: every transition of every run, as it happens,
// so that a killed trainrun loses nothing and submits nothing twice.
//
// The interfaces of backend.go (Current, History, Recorder, Updater,
// Claimer, Locker, and Backend, all of them) are what the rest of trainrun
// asks of a place that records runs; package statetest holds the suite
// every backend passes. Store, a directory on the local disk, is one.
//
// A Store keeps its records in a directory (the project's .trainrun/,
// created 0700 on first write; every file 0600):
//
//	state.json  a compacted snapshot: format version, lineage, serial, how
//	            much of the history files is history, then the current
//	            records (the latest run of every instance, every live run),
//	            one per line
//	journal     append-only; one line per record put since the snapshot:
//	            "CRC SERIAL LAST ID JSON", CRC being the CRC-32C (hex) of
//	            the rest of the line and LAST the serial ending the Put the
//	            record belongs to
//	history     the records that are no longer current, appended by
//	            compactions: "CRC ID JSON" (history.go)
//	history.idx a line per history record: where it is, and what queries
//	            select runs by
//	lock        held with flock(2) by the one writer (as is the directory),
//	            which writes who it is into it
//	claims/     a file per claimed instance, held with flock(2)
//
// # Durability
//
// Put appends its records to the journal with a single write(2) and does
// not wait for the disk. A process that dies (kill -9, panic, OOM) loses
// nothing that a returned Put wrote: the kernel has it. A power loss or a
// kernel crash may lose the transitions since the last Sync, which the
// runtime calls at the end of an apply, and which compaction implies. That
// is the trade: an fsync per transition would cost milliseconds each, and
// what a power cut can lose is bounded by what the runtime re-discovers
// from the computes when it re-attaches.
//
// A Put is atomic: a record is replayed only when every record of its Put
// is on disk, so a Put torn by a kill is replayed as if it never happened.
//
// # Reading and compaction
//
// Opening replays state.json and then the journal. A record whose serial is
// not above the snapshot's was already compacted and is skipped, so a crash
// between writing a snapshot and truncating the journal is harmless. A torn
// or damaged last line is ignored (and cut away when a writer next takes
// the lock); a damaged line anywhere else is an error naming the file and
// line, never silently skipped.
//
// When the journal grows past a threshold (at least 4096 records and at
// least as many records as there are runs, so that compaction stays O(1)
// per Put amortized) the writer writes a new state.json atomically and
// truncates the journal. Readers take no lock: they notice when state.json
// was replaced while they read the journal and read again.
//
// # Locking
//
// One writer at a time: writers take flock(2) on the directory and on the
// lock file, which the kernel releases when the holder dies, so a killed
// apply never leaves a stale lock behind. Lock takes it for as long as the
// caller wants; otherwise each Put and Update takes it for one
// transaction, reading first what other writers appended since. Another
// process that tries gets a *LockedError naming the holder (Put and Update
// wait a while first). Removing or replacing the lock file lets nobody in
// (the directory stays locked); the holder notices at its next Put and puts
// its file back. A holder whose directory was replaced writes no more. A
// damaged store is refused by Open, and Repair rewrites it from its intact
// records.
//
// # Claims
//
// Claim takes flock(2) on claims/HASH (HASH: of the instance address),
// which says who claimed it; the kernel releases it with its process.
//
// # Files
//
// Every file of the store is opened with O_NOFOLLOW: a symbolic link is
// refused (*LinkError), never read or written through. Run ids are checked
// (CheckRunID) on every read and write, since they become paths.
package state
