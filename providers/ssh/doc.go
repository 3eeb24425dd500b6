// Package ssh is the "ssh" compute kind: runs on machines reached over SSH,
// with nothing installed on them but a POSIX shell and the usual utilities
// (tar, setsid; perl makes materializing run directories fast).
//
// The compute is the run logic every compute shares (providers/runner)
// over an Executor that reaches the machine through golang.org/x/crypto/ssh,
// so a run's directory, wrapper, log, exit file, timeout and cancellation
// work exactly as they do locally (see providers/runner). What is particular to
// SSH:
//
//   - Host keys are always verified, against known_hosts files or an
//     explicit host_key fingerprint. An unknown host, or a key that does not
//     match, fails before anything runs, with a message saying what to do.
//   - One connection per machine, multiplexed: every operation is a session
//     on it, at most eight at once. Keepalives notice a dead connection; the
//     next operation dials again, and operations that are safe to repeat
//     (reading files, asking whether a run is alive) are repeated, so live
//     runs are followed across a dropped connection, never started twice.
//   - Snapshots are uploaded incrementally: the machine keeps a blob cache
//     (WORKDIR/blobs/ab/cdef…, named by SHA-256), only the blobs it lacks
//     are sent (one tar stream), and run directories are materialized from
//     the cache on the machine.
//   - A run's environment never lands in a file: it travels in the script
//     that starts the run, which the remote shell reads from the session's
//     standard input (sh -s), so neither a file nor a command line holds it.
//   - Every command line sent is built with executor.CommandLine/Quote: the
//     remote login shell sees single-quoted words only.
//
// Host names are resolved through ~/.ssh/config (Host sections with
// HostName, User, Port, IdentityFile, ProxyJump, UserKnownHostsFile; Match
// all and Match host; Include), as OpenSSH users expect; attributes written
// in the compute block win over it.
package ssh
