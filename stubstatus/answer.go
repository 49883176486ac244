package stubstatus

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http/httputil"
)

// Limits on an answer's header: a stub_status answer has about six lines,
// under 300 bytes in all.
const (
	// maxHeaderLines is the most header lines (or chunked trailer lines).
	maxHeaderLines = 100
	// maxLine is the longest status or header line, in bytes (a proxy's
	// long Set-Cookie or Content-Security-Policy fits).
	maxLine = 64 << 10
)

// errNoAnswer is a connection that closed before any byte of an answer.
var errNoAnswer = errors.New("connection closed before an answer")

// readAnswer reads one HTTP/1.x answer to a GET from br: its status line,
// its header and its body, which goes into sl (at most maxBody+1 bytes; the
// caller tells a larger one by its length). It returns the status code
// (0 when no status line was read) and whether the connection may carry
// another request: the answer is complete, framed by Content-Length or
// chunked encoding, the server did not ask to close, and nothing follows it.
// An error with a code is one reading the body. unanswered is set false
// once a byte of the answer arrives. Informational (1xx) answers are
// skipped. Errors never quote the answer: a server may echo the request,
// auth header included.
func readAnswer(br *bufio.Reader, sl *slot, maxBody int64, unanswered *bool) (code int, keep bool, err error) {
	sl.buf.Reset()
	var http10 bool
	for {
		line, err := readLine(br)
		if err != nil {
			if errors.Is(err, io.EOF) && *unanswered {
				return 0, false, errNoAnswer
			}
			return 0, false, fmt.Errorf("reading the status line: %w", err)
		}
		*unanswered = false
		if code, http10, err = parseStatusLine(line); err != nil {
			return 0, false, err
		}
		if code == 101 {
			return 0, false, errors.New("malformed answer: 101 Switching Protocols to a GET")
		}
		h, err := readHeader(br, http10)
		if err != nil {
			return 0, false, err
		}
		if code >= 200 {
			keep, err := readBody(br, sl, maxBody, code, h)
			return code, keep, err
		}
		// 1xx: another status line follows.
	}
}

// header is what an answer's header says of its body and its connection.
type header struct {
	length  int64 // Content-Length, or -1
	chunked bool  // Transfer-Encoding: chunked
	keep    bool  // the connection stays open after the answer
}

// parseStatusLine parses "HTTP/1.1 200 OK" (or HTTP/1.0; the reason may be
// missing).
func parseStatusLine(line []byte) (code int, http10 bool, err error) {
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[7] != '0' && line[7] != '1' || line[8] != ' ' ||
		len(line) > 12 && line[12] != ' ' {
		return 0, false, errors.New("malformed answer: not an HTTP/1.0 or HTTP/1.1 status line")
	}
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return 0, false, errors.New("malformed answer: the status code is not 3 digits")
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 {
		return 0, false, fmt.Errorf("malformed answer: status code %d", code)
	}
	return code, line[7] == '0', nil
}

// readHeader reads header lines up to the blank line that ends them.
func readHeader(br *bufio.Reader, http10 bool) (header, error) {
	h := header{length: -1}
	var closing, keepAlive, framing bool
	for n := 0; ; n++ {
		line, err := readLine(br)
		if err != nil {
			return h, fmt.Errorf("reading the header: %w", unexpectedEOF(err))
		}
		if len(line) == 0 {
			break
		}
		if n == maxHeaderLines {
			return h, fmt.Errorf("malformed answer: more than %d header lines", maxHeaderLines)
		}
		if line[0] == ' ' || line[0] == '\t' {
			// An obsolete folded line continues the field before it (RFC
			// 9112 §5.2): harmless for a field not read here, suspect for
			// one that frames the body or closes the connection.
			if n == 0 || framing {
				return h, errors.New("malformed answer: a folded header line where it cannot be")
			}
			if !isFieldValue(line) {
				return h, errors.New("malformed answer: a header value holds control characters")
			}
			continue
		}
		name, value, err := splitField(line)
		if err != nil {
			return h, err
		}
		field := fieldOf(name)
		framing = field != otherField
		switch {
		case field == lengthField:
			length, ok := parseLength(value)
			if !ok || h.length >= 0 && length != h.length {
				return h, errors.New("malformed answer: an invalid or conflicting Content-Length")
			}
			h.length = length
		case field == encodingField && !http10: // HTTP/1.0 has none
			if !bytes.EqualFold(value, []byte("chunked")) || h.chunked {
				return h, errors.New("malformed answer: a Transfer-Encoding other than chunked")
			}
			h.chunked = true
		case field == connectionField:
			for tok := range bytes.SplitSeq(value, []byte(",")) {
				tok = bytes.Trim(tok, " \t")
				closing = closing || bytes.EqualFold(tok, []byte("close"))
				keepAlive = keepAlive || bytes.EqualFold(tok, []byte("keep-alive"))
			}
		}
	}
	// A chunked answer that also has a length is framed by the chunks, and
	// its connection is not used again (RFC 9112 §6.3).
	h.keep = !closing && (!http10 || keepAlive) && !(h.chunked && h.length >= 0)
	return h, nil
}

// The header fields readHeader reads: those that frame the body or close
// the connection.
const (
	otherField = iota
	lengthField
	encodingField
	connectionField
)

// fieldOf says which of the fields readHeader reads name is.
func fieldOf(name []byte) int {
	switch {
	case bytes.EqualFold(name, []byte("Content-Length")):
		return lengthField
	case bytes.EqualFold(name, []byte("Transfer-Encoding")):
		return encodingField
	case bytes.EqualFold(name, []byte("Connection")):
		return connectionField
	}
	return otherField
}

// splitField splits a header (or trailer) line into its name and its
// value, without the spaces around it.
func splitField(line []byte) (name, value []byte, err error) {
	name, value, ok := bytes.Cut(line, []byte(":"))
	if !ok || !isToken(name) {
		return nil, nil, errors.New("malformed answer: a header line is not a name, a colon and a value")
	}
	if !isFieldValue(value) {
		return nil, nil, errors.New("malformed answer: a header value holds control characters")
	}
	return name, bytes.Trim(value, " \t"), nil
}

// readBody reads the body of an answer with status code and header h into
// sl, at most maxBody+1 bytes, and reports whether the connection may carry
// another request.
func readBody(br *bufio.Reader, sl *slot, maxBody int64, code int, h header) (keep bool, err error) {
	limit := maxBody + 1
	switch {
	case code == 204 || code == 304:
		keep = h.keep
	case h.chunked:
		sl.body = io.LimitedReader{R: httputil.NewChunkedReader(br), N: limit}
		_, err = sl.buf.ReadFrom(&sl.body)
		if err == nil && sl.body.N > 0 { // the last chunk came: read the trailer
			keep = h.keep
			err = skipTrailer(br)
		}
	case h.length >= 0:
		// Read into a buffer of the body's size: ReadFrom would keep 512
		// bytes spare, and a Source keeps its buffer for its next read.
		n := int(min(h.length, limit))
		sl.buf.Grow(n)
		b := sl.buf.AvailableBuffer()[:n]
		var got int
		got, err = io.ReadFull(br, b)
		sl.buf.Write(b[:got])
		keep = h.length < limit && h.keep
	default: // the body ends when the connection closes
		sl.body = io.LimitedReader{R: br, N: limit}
		_, err = sl.buf.ReadFrom(&sl.body)
	}
	sl.body.R = nil
	if err != nil {
		return false, fmt.Errorf("reading the body: %w", unexpectedEOF(err))
	}
	return keep && br.Buffered() == 0, nil
}

// skipTrailer reads the trailer lines after a chunked body, up to the blank
// line that ends them.
func skipTrailer(br *bufio.Reader) error {
	for range maxHeaderLines {
		line, err := readLine(br)
		if err != nil {
			return unexpectedEOF(err)
		}
		if len(line) == 0 {
			return nil
		}
		if _, _, err := splitField(line); err != nil {
			return err
		}
	}
	return fmt.Errorf("malformed answer: more than %d trailer lines", maxHeaderLines)
}

// readLine returns the next line of br without its line ending (CRLF or
// LF), at most maxLine bytes. The line is valid until the next read.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) { // longer than the buffer: rare, so a copy
		long := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) && len(long) <= maxLine {
			line, err = br.ReadSlice('\n')
			long = append(long, line...)
		}
		if len(long) > maxLine {
			return nil, fmt.Errorf("malformed answer: a status or header line longer than %d bytes", maxLine)
		}
		line = long
	}
	if err != nil {
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// unexpectedEOF returns io.ErrUnexpectedEOF for io.EOF: the answer stopped
// halfway.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseLength parses a Content-Length value: decimal digits, at most 18.
func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
