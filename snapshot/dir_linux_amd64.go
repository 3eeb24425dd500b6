package snapshot

import "syscall"

const (
	sysFstatat = syscall.SYS_NEWFSTATAT
	sysSyncfs  = 306 // missing from package syscall on amd64
)
