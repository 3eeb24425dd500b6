package main

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// useScreen reports whether watch draws its full-screen view: when its
// output is a terminal that can move the cursor.
func (c *cli) useScreen() bool {
	return isTerminal(c.stdout) && c.getenv("TERM") != "dumb"
}

// terminalSize returns a function that says the size of the terminal
// behind out, asked each time (the terminal may be resized); when that
// cannot be known, $COLUMNS and $LINES, else 80×24.
func (c *cli) terminalSize(out any) func() (width, height int) {
	fd := -1
	if f, ok := out.(*os.File); ok {
		fd = int(f.Fd())
	}
	return func() (int, int) {
		if fd >= 0 {
			if ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ); err == nil && ws.Col > 0 && ws.Row > 0 {
				return int(ws.Col), int(ws.Row)
			}
		}
		return envSize(c.getenv("COLUMNS"), 80), envSize(c.getenv("LINES"), 24)
	}
}

func envSize(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return n
	}
	return def
}
