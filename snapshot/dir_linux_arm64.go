package snapshot

import "syscall"

const (
	sysFstatat = syscall.SYS_FSTATAT
	sysSyncfs  = syscall.SYS_SYNCFS
)
