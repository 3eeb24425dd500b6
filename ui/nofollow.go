package ui

import "syscall"

// noFollow makes opening a symlink fail: the dashboard reads trainrun's own
// files, never through a link.
const noFollow = syscall.O_NOFOLLOW
