//go:build unix

package configsrc

import (
	"os"
	"syscall"
)

// openNonblocking opens path for reading without blocking: opening a FIFO
// with no writer would otherwise wait, uninterruptibly, for one.
func openNonblocking(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
