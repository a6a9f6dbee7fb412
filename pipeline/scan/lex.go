package scan

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The scanner needs just enough of Python's tokenizer to tell code from comments and
// string literals (so a docstring that shows an import_module call is not one) and to
// read the pieces of f-strings. It is lenient on purpose: a file Python would reject
// still yields tokens, because reporting syntax errors is PyInstaller's job and it does
// it with better messages.

type tokKind uint8

const (
	tkName tokKind = iota + 1
	tkString
	tkNumber
	tkOp
	tkNewline // end of a logical line (never emitted inside brackets)
)

type token struct {
	kind  tokKind
	text  string // source text; for strings the whole literal, prefix and quotes included
	start int    // byte offsets into the source
	end   int
	line  int // 1-based line where the token starts
	str   *strLit
}

// strLit is a decoded string literal. Plain strings have literal parts only; f-strings
// also have fields, kept as expression text, because __name__ inside one is what makes
// f"{__name__}.{name}" resolvable.
type strLit struct {
	bytes  bool
	opaque bool // nested too deep to read (see maxNesting): its value is unknown
	parts  []strPart
}

type strPart struct {
	lit   string
	field bool   // an f-string replacement field
	expr  string // the field's expression (before any !conversion or :spec), trimmed
}

func (t token) is(kind tokKind, text string) bool { return t.kind == kind && t.text == text }

type lexer struct {
	src   string
	line  int
	depth int // bracket nesting; newlines inside brackets do not end a statement
	nest  int // f-string replacement fields being read, one inside the other
	toks  []token

	// abandon is set when an f-string nests deeper than maxNesting: every level
	// returns at once, and stringToken makes the outermost literal opaque.
	abandon bool
}

// maxNesting bounds how deep the scanner follows nested constructs: f-strings inside
// f-string fields here, parentheses and calls in the evaluator. Each level is a level
// of recursion, and a hostile file a million levels deep would overflow the goroutine
// stack, a fatal error that no recover catches. Python stops well before: its parser
// rejects more than 200 nested parentheses and 150 nested f-strings. Beyond the bound
// a construct is opaque (an f-string literal is skipped as a whole, an expression is
// unresolvable), which no working program notices.
const maxNesting = 200

// Longest first: "**=" must not lex as "**" and "=".
var operators = []string{
	"**=", "//=", ">>=", "<<=", "...",
	"**", "//", "<<", ">>", "<=", ">=", "==", "!=", "->", ":=",
	"+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "@=",
}

func tokenize(src string) []token {
	// Ordinary Python has a token every five bytes or so: start near that, rather than
	// growing from nothing through a dozen copies on a large file.
	lx := &lexer{src: src, line: 1, toks: make([]token, 0, len(src)/8+16)}
	i := 0
	if strings.HasPrefix(src, "\ufeff") {
		i = len("\ufeff")
	}
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\n':
			i++
			lx.newline()
		case c == '\r':
			i++
			if i < len(src) && src[i] == '\n' {
				i++
			}
			lx.newline()
		case c == ' ' || c == '\t' || c == '\f':
			i++
		case c == '#':
			for i < len(src) && src[i] != '\n' && src[i] != '\r' {
				i++
			}
		case c == '\\': // explicit line joining: the statement goes on
			i++
			joined := false
			if i < len(src) && src[i] == '\r' {
				i, joined = i+1, true
			}
			if i < len(src) && src[i] == '\n' {
				i, joined = i+1, true
			}
			if joined {
				lx.line++
			}
		case c == '"' || c == '\'':
			i = lx.stringToken(i, i)
		case isDigit(c) || (c == '.' && i+1 < len(src) && isDigit(src[i+1])):
			start := i
			for i < len(src) && (isIdentByte(src[i]) || src[i] == '.') {
				i++
			}
			lx.emit(tkNumber, start, i)
		default:
			r, size := utf8.DecodeRuneInString(src[i:])
			if isIdentStart(r) {
				start := i
				i = identEnd(src, i)
				if i < len(src) && (src[i] == '"' || src[i] == '\'') && isStringPrefix(src[start:i]) {
					i = lx.stringToken(start, i)
					continue
				}
				lx.emit(tkName, start, i)
				continue
			}
			if r >= utf8.RuneSelf || r == utf8.RuneError {
				i += size // stray non-ASCII outside strings: not Python, skip it
				continue
			}
			n := 1
			if strings.IndexByte("()[]{},;", c) < 0 { // these are one byte, always
				for _, op := range operators {
					if strings.HasPrefix(src[i:], op) {
						n = len(op)
						break
					}
				}
			}
			switch c {
			case '(', '[', '{':
				lx.depth++
			case ')', ']', '}':
				if lx.depth > 0 {
					lx.depth--
				}
			}
			lx.emit(tkOp, i, i+n)
			i += n
		}
	}
	return lx.toks
}

func (lx *lexer) emit(kind tokKind, start, end int) {
	lx.toks = append(lx.toks, token{kind: kind, text: lx.src[start:end], start: start, end: end, line: lx.line})
}

func (lx *lexer) newline() {
	if lx.depth == 0 && len(lx.toks) > 0 && lx.toks[len(lx.toks)-1].kind != tkNewline {
		lx.toks = append(lx.toks, token{kind: tkNewline, text: "\n", start: -1, end: -1, line: lx.line})
	}
	lx.line++
}

// stringToken lexes the literal whose prefix starts at start and whose quote is at q.
func (lx *lexer) stringToken(start, q int) int {
	line := lx.line
	end, lit := lx.scanString(q, lx.src[start:q])
	if lx.abandon {
		// Nested too deep to follow (see maxNesting). Where the levels above the
		// bound would end is not known without following them, so the literal ends
		// where Python's tokenizer ends an unterminated one: at the end of the line,
		// or at the next closing triple quote. Reading the deepest level as a plain
		// string instead would leave the levels above it out of step, and they would
		// swallow the lines after.
		lx.abandon = false
		skip := len(lx.src) - end
		if quote := lx.src[q : q+1]; strings.HasPrefix(lx.src[q:], strings.Repeat(quote, 3)) {
			if k := strings.Index(lx.src[end:], strings.Repeat(quote, 3)); k >= 0 {
				skip = k + 3
			}
		} else if k := strings.IndexAny(lx.src[end:], "\r\n"); k >= 0 {
			skip = k
		}
		lx.line += countLines(lx.src[end : end+skip])
		end += skip
		lit = &strLit{opaque: true}
	}
	lx.toks = append(lx.toks, token{kind: tkString, text: lx.src[start:end], start: start, end: end, line: line, str: lit})
	return end
}

// countLines counts line breaks as the lexer does: \r\n is one.
func countLines(s string) int {
	return strings.Count(s, "\n") + strings.Count(s, "\r") - strings.Count(s, "\r\n")
}

// scanString reads a string literal whose opening quote is at i and returns the offset
// just past it. Only the escapes that can matter in a module name are decoded; the
// others are kept as written.
func (lx *lexer) scanString(i int, prefix string) (int, *strLit) {
	src := lx.src
	p := strings.ToLower(prefix)
	raw := strings.Contains(p, "r")
	formatted := strings.ContainsAny(p, "ft")
	lit := &strLit{bytes: strings.Contains(p, "b")}
	quote := src[i]
	closing := string(quote)
	triple := strings.HasPrefix(src[i:], strings.Repeat(closing, 3))
	if triple {
		closing = strings.Repeat(closing, 3)
	}
	i += len(closing)

	var buf strings.Builder
	flush := func() {
		if buf.Len() > 0 {
			lit.parts = append(lit.parts, strPart{lit: buf.String()})
			buf.Reset()
		}
	}
	for i < len(src) {
		c := src[i]
		switch {
		case c == quote && strings.HasPrefix(src[i:], closing):
			flush()
			return i + len(closing), lit
		case c == '\\' && i+1 < len(src):
			n := src[i+1]
			switch {
			case n == '\n' || n == '\r': // backslash-newline continues the literal
				if raw {
					buf.WriteString(src[i : i+2])
				}
				i += 2
				if n == '\r' && i < len(src) && src[i] == '\n' {
					if raw {
						buf.WriteByte('\n')
					}
					i++
				}
				lx.line++
			case raw: // kept as written, but an escaped quote still does not close
				buf.WriteString(src[i : i+2])
				i += 2
			case formatted && n == 'N' && i+2 < len(src) && src[i+2] == '{': // \N{NAME} is no field
				j := strings.IndexAny(src[i:], "}\n")
				if j < 0 || src[i+j] != '}' {
					buf.WriteString(src[i : i+2])
					i += 2
					break
				}
				buf.WriteString(src[i : i+j+1])
				i += j + 1
			default:
				switch n {
				case '\\', '\'', '"':
					buf.WriteByte(n)
				case 'n':
					buf.WriteByte('\n')
				case 't':
					buf.WriteByte('\t')
				default:
					buf.WriteString(src[i : i+2])
				}
				i += 2
			}
		case c == '\n' || c == '\r':
			if !triple { // unterminated: end at the line, as Python's error would
				flush()
				return i, lit
			}
			buf.WriteByte(c)
			i++
			if c == '\r' && i < len(src) && src[i] == '\n' {
				buf.WriteByte('\n')
				i++
			}
			lx.line++
		case formatted && c == '{':
			if i+1 < len(src) && src[i+1] == '{' {
				buf.WriteByte('{')
				i += 2
				continue
			}
			flush()
			expr, end := lx.scanField(i+1, quote, triple)
			if lx.abandon {
				return end, lit
			}
			lit.parts = append(lit.parts, strPart{field: true, expr: expr})
			i = end
		case formatted && c == '}' && i+1 < len(src) && src[i+1] == '}':
			buf.WriteByte('}')
			i += 2
		default:
			buf.WriteByte(c)
			i++
		}
	}
	flush()
	return i, lit
}

// scanField reads an f-string replacement field starting just after its '{' and returns
// the expression text and the offset just past the closing '}'. Since Python 3.12 a
// field may contain strings in the same quotes as the f-string itself, so nested
// literals are lexed as literals rather than taken for the end of the f-string.
func (lx *lexer) scanField(i int, quote byte, triple bool) (string, int) {
	if lx.nest >= maxNesting {
		lx.abandon = true
		return "", i
	}
	lx.nest++
	defer func() { lx.nest-- }()
	src := lx.src
	start, exprEnd, depth := i, -1, 0
	expr := func(end int) string {
		if exprEnd >= 0 {
			end = exprEnd
		}
		return strings.TrimSpace(src[start:end])
	}
	for i < len(src) {
		c := src[i]
		switch {
		case c == '"' || c == '\'':
			p := i
			for p > start && isIdentByte(src[p-1]) {
				p--
			}
			prefix := src[p:i]
			if !isStringPrefix(prefix) {
				prefix = ""
			}
			if i, _ = lx.scanString(i, prefix); lx.abandon {
				return "", i
			}
		case c == '(' || c == '[' || c == '{':
			depth++
			i++
		case c == ')' || c == ']':
			if depth > 0 {
				depth--
			}
			i++
		case c == '}':
			if depth == 0 {
				return expr(i), i + 1
			}
			depth--
			i++
		case c == '\n' || c == '\r':
			if !triple && depth == 0 { // unterminated field: let the string end here
				return expr(i), i
			}
			if c == '\n' || i+1 >= len(src) || src[i+1] != '\n' {
				lx.line++
			}
			i++
		case depth == 0 && c == '!' && (i+1 >= len(src) || src[i+1] != '='): // !r / !s / !a
			if exprEnd < 0 {
				exprEnd = i
			}
			i++
		case depth == 0 && c == '=' && (i+1 >= len(src) || src[i+1] != '=') &&
			(i == start || !strings.ContainsRune("=!<>:", rune(src[i-1]))): // f"{x=}"
			if exprEnd < 0 {
				exprEnd = i
			}
			i++
		case depth == 0 && c == ':': // format spec: may hold nested fields
			if exprEnd < 0 {
				exprEnd = i
			}
			return expr(i), lx.scanSpec(i+1, quote, triple)
		default:
			i++
		}
	}
	return expr(i), i
}

// scanSpec skips a format spec (after the ':') up to and past the field's closing '}'.
func (lx *lexer) scanSpec(i int, quote byte, triple bool) int {
	src := lx.src
	for i < len(src) {
		switch c := src[i]; {
		case c == '{':
			if _, i = lx.scanField(i+1, quote, triple); lx.abandon {
				return i
			}
		case c == '}':
			return i + 1
		case !triple && (c == quote || c == '\n' || c == '\r'):
			return i // the f-string ends here: leave it to scanString
		default:
			if c == '\n' {
				lx.line++
			}
			i++
		}
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isIdentByte(c byte) bool {
	return c == '_' || isDigit(c) || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || c >= utf8.RuneSelf
}

func isIdentStart(r rune) bool {
	return r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') ||
		(r >= utf8.RuneSelf && r != utf8.RuneError && unicode.IsLetter(r))
}

func isIdentRune(r rune) bool {
	return isIdentStart(r) || ('0' <= r && r <= '9') ||
		(r >= utf8.RuneSelf && (unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r) || unicode.Is(unicode.Pc, r)))
}

func identEnd(src string, i int) int {
	for i < len(src) {
		r, size := utf8.DecodeRuneInString(src[i:])
		if !isIdentRune(r) {
			break
		}
		i += size
	}
	return i
}

// isIdentifier reports whether s is one Python identifier (one part of a module name).
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s)
	return isIdentStart(r) && identEnd(s, 0) == len(s)
}

func isStringPrefix(p string) bool {
	switch strings.ToLower(p) {
	case "r", "u", "b", "br", "rb", "f", "fr", "rf", "t", "tr", "rt":
		return true
	}
	return false
}
