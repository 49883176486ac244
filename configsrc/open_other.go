//go:build !unix

package configsrc

import "os"

// openNonblocking opens path for reading (elsewhere than Unix, opening does
// not wait for a writer).
func openNonblocking(path string) (*os.File, error) { return os.Open(path) }
