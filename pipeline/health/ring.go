package health

import (
	"io"
	"sync"
)

// maxLineBytes caps one kept line: a backend dumping a huge line (a base64
// blob, a minified traceback) must not blow up the report.
const maxLineBytes = 2000

// ring keeps the last n lines of the backend's combined stdout and stderr, the
// part worth showing when start-up fails, in bounded memory however long the
// backend logs. It is safe for concurrent writers (the backend and its
// children share the pipe, and Output may be read meanwhile).
type ring struct {
	mu      sync.Mutex
	n       int
	lines   []string
	partial []byte
	cut     bool      // partial was truncated at maxLineBytes
	out     io.Writer // optional copy of everything written
}

func newRing(n int, out io.Writer) *ring { return &ring{n: n, out: out} }

func (r *ring) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.out != nil {
		_, _ = r.out.Write(p) // a failing log copy must not break the backend's pipe
	}
	for _, b := range p {
		switch {
		case b == '\n':
			r.push()
		case len(r.partial) < maxLineBytes:
			r.partial = append(r.partial, b)
		default:
			r.cut = true
		}
	}
	return len(p), nil
}

func (r *ring) push() {
	line := string(r.partial)
	if r.cut {
		line += " [truncated]"
	}
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	r.lines = append(r.lines, line)
	if len(r.lines) > r.n {
		r.lines = append(r.lines[:0], r.lines[len(r.lines)-r.n:]...)
	}
	r.partial, r.cut = r.partial[:0], false
}

// tail returns the kept lines, including an unterminated last line: a backend
// that crashes mid-line has often just written the interesting part.
func (r *ring) tail() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]string(nil), r.lines...)
	if len(r.partial) > 0 {
		out = append(out, string(r.partial))
		if len(out) > r.n {
			out = out[len(out)-r.n:]
		}
	}
	return out
}
