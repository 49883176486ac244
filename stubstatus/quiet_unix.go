//go:build unix

package stubstatus

import "syscall"

// quiet reports whether nothing has arrived on c's socket since its last
// answer: no byte and no end of stream. It asks the kernel without waiting
// and reads nothing (MSG_PEEK, MSG_DONTWAIT). c's deadline must be in the
// future. A connection whose socket it cannot reach counts as quiet.
func (c *conn) quiet() bool {
	if c.raw == nil {
		return true
	}
	if err := c.raw.Read(c.peekFn); err != nil {
		return false
	}
	return c.peekErr == syscall.EAGAIN || c.peekErr == syscall.EWOULDBLOCK
}

// peek is quiet's look at the socket, fd; its results are in c.peekErr
// (EAGAIN: nothing there).
func (c *conn) peek(fd uintptr) bool {
	var n int
	n, _, c.peekErr = syscall.Recvfrom(int(fd), c.peekBuf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	if c.peekErr == nil && n == 0 {
		c.peekErr = syscall.ECONNRESET // end of stream: the server closed it
	}
	return true // done, whatever it found: never wait
}
