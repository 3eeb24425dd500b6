package ssh

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/trainrun/trainrun/providers"
)

// Facts asks the machine what it is: OS, kernel, architecture, CPUs,
// memory, and GPUs when nvidia-smi is there.
func (e *Executor) Facts(ctx context.Context) (providers.HostFacts, error) {
	out, err := e.sh(ctx, true, factsScript, nil, nil)
	if err != nil {
		var hk *HostKeyError
		var ae *AuthError
		var ne *netError
		if errors.As(err, &hk) || errors.As(err, &ae) || errors.As(err, &ne) {
			return providers.HostFacts{}, err // says what and where already
		}
		return providers.HostFacts{}, fmt.Errorf("ask %s what it is: %w", e.conn.t, err)
	}
	return parseFacts(string(out)), nil
}

// parseFacts reads factsScript's KEY=VALUE lines; what is missing or
// malformed stays zero.
func parseFacts(out string) providers.HostFacts {
	var f providers.HostFacts
	var osName, distro string
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "os":
			osName = v
		case "distro":
			distro = v
		case "kernel":
			f.Kernel = v
		case "arch":
			f.Arch = v
		case "cpus":
			f.CPUs, _ = strconv.Atoi(v)
		case "memory_kib":
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
				f.Memory = n * 1024
			}
		case "memory":
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
				f.Memory = n
			}
		case "gpu":
			if v != "" {
				f.GPUs = append(f.GPUs, v)
			}
		}
	}
	f.OS = osName
	if distro != "" {
		f.OS = distro
	}
	return f
}
