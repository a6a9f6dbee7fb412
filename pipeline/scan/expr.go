package scan

import (
	"regexp"
	"strconv"
	"strings"
)

// A pattern is what an import-string argument is known to be: literal text with holes
// where a run-time value goes. "services." + name is [lit "services.", hole]; a plain
// literal has no hole. Holes are resolved against the modules of the source tree.
type pattern []seg

type seg struct {
	lit  string
	hole bool
}

func litPat(s string) pattern {
	if s == "" {
		return pattern{}
	}
	return pattern{{lit: s}}
}

func holePat() pattern { return pattern{{hole: true}} }

// cat joins patterns, merging neighbouring literals and neighbouring holes so that the
// shape of a pattern does not depend on how the source spelled it.
func cat(ps ...pattern) pattern {
	var b patBuilder
	for _, p := range ps {
		b.add(p)
	}
	return b.pattern()
}

// patBuilder joins patterns as cat does, in time linear in what it is given: building
// a pattern with cat(out, next) in a loop copies everything built so far at each step,
// which took minutes on a literal of a megabyte assembled one byte at a time.
type patBuilder struct {
	ev   *evaluator // charged for what is added; nil: free
	segs pattern
	lit  strings.Builder // literal text not yet in segs
}

func (b *patBuilder) add(p pattern) {
	for _, s := range p {
		if b.ev != nil && !b.ev.spend(1+len(s.lit)) {
			return // the result is opaque anyway
		}
		if !s.hole {
			b.lit.WriteString(s.lit)
			continue
		}
		b.flush()
		if n := len(b.segs); n == 0 || !b.segs[n-1].hole {
			b.segs = append(b.segs, s)
		}
	}
}

func (b *patBuilder) addLit(s string) {
	if s != "" {
		b.add(pattern{{lit: s}})
	}
}

func (b *patBuilder) flush() {
	if b.lit.Len() > 0 {
		b.segs = append(b.segs, seg{lit: b.lit.String()})
		b.lit.Reset()
	}
}

// pattern returns what was added, nil if nothing was.
func (b *patBuilder) pattern() pattern {
	b.flush()
	return b.segs
}

// literal returns the text of a pattern without holes.
func (p pattern) literal() (string, bool) {
	var b strings.Builder
	for _, s := range p {
		if s.hole {
			return "", false
		}
		b.WriteString(s.lit)
	}
	return b.String(), true
}

// key identifies a pattern: equal keys, equal patterns. Literals are written with
// their length, since a literal may hold any byte a separator could be.
func (p pattern) key() string {
	var b strings.Builder
	for _, s := range p {
		if s.hole {
			b.WriteByte('*')
		} else {
			b.WriteString(strconv.Itoa(len(s.lit)))
			b.WriteByte(':')
			b.WriteString(s.lit)
		}
	}
	return b.String()
}

// holeRE turns a pattern into a regexp over dotted module names. A hole stands for one
// name part (no dots): f"services.{name}" means a module directly in services/, which
// is how such loaders are written; a hole spanning packages would make everything match.
func (p pattern) regexp() *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for _, s := range p {
		if s.hole {
			b.WriteString(`[^.]+`)
		} else {
			b.WriteString(regexp.QuoteMeta(s.lit))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// evaluator turns argument tokens into patterns. __name__ and __package__ are the only
// names it knows the value of; every other name, call or operator is a hole.
//
// What it may spend on one call is bounded (see maxEvalWork and maxNesting): past the
// bound the call is opaque, and resolve reports it unresolved. A hole would not do,
// since "pkg." + hole matches every module of pkg.
type evaluator struct {
	modName string // the file's __name__ ("" if the file is not importable)
	pkgName string // the file's __package__

	work   int  // spent on the current call, in tokens and bytes looked at
	depth  int  // expressions being evaluated, one inside the other
	opaque bool // the current call went past a bound: its value is unknown
}

// maxEvalWork bounds the work the evaluator does for one call, counted in tokens and
// bytes it looks at or produces. An ordinary call costs tens to hundreds; the bound
// keeps a hostile one (a megabyte literal % x, "{0}{0}…".format(…) repeating a long
// argument, deep parentheses searched for their closing one at each level) from costing
// more than a fixed amount. It also bounds the length of a name: a module name of 16 KiB
// is no module of any file system.
const maxEvalWork = 1 << 14

// begin readies the evaluator for a new call.
func (ev *evaluator) begin() { ev.work, ev.depth, ev.opaque = 0, 0, false }

// spend charges n units of work before they are done, reporting whether the call is
// still within its budget; once it is not, the call is opaque.
func (ev *evaluator) spend(n int) bool {
	ev.work += n
	if ev.work > maxEvalWork {
		ev.opaque = true
	}
	return !ev.opaque
}

func (ev *evaluator) builder() *patBuilder { return &patBuilder{ev: ev} }

func (ev *evaluator) expr(toks []token) pattern {
	if len(toks) == 0 {
		return holePat()
	}
	ev.depth++
	defer func() { ev.depth-- }()
	// Two passes of splitTop below; too deep is opaque (see maxNesting).
	if ev.depth > maxNesting || !ev.spend(2*len(toks)) {
		ev.opaque = true
		return holePat()
	}
	parts, commas := splitTop(toks, func(t token) bool { return t.is(tkOp, ",") })
	if commas > 0 {
		return holePat() // a tuple, not a string
	}
	parts, _ = splitTop(parts[0], func(t token) bool { return t.is(tkOp, "+") })
	out := ev.builder()
	for _, part := range parts {
		out.add(ev.term(part))
	}
	return out.pattern()
}

func (ev *evaluator) term(toks []token) pattern {
	if len(toks) == 0 {
		return holePat()
	}
	if !ev.spend(len(toks)) { // closing, below, and counting the strings
		return holePat()
	}
	if toks[0].is(tkOp, "(") && closing(toks, 0) == len(toks)-1 {
		return ev.expr(toks[1 : len(toks)-1])
	}
	n := 0
	for n < len(toks) && toks[n].kind == tkString {
		n++
	}
	if n > 0 {
		str := ev.literals(toks[:n])
		rest := toks[n:]
		switch {
		case len(rest) == 0:
			return str
		case rest[0].is(tkOp, "%") && len(rest) > 1:
			return ev.percent(str, rest[1:])
		case len(rest) >= 4 && rest[0].is(tkOp, ".") && rest[1].kind == tkName &&
			rest[2].is(tkOp, "(") && closing(rest, 2) == len(rest)-1:
			if !ev.spend(len(rest)) { // splitArgs
				return holePat()
			}
			args := splitArgs(rest[3 : len(rest)-1])
			switch rest[1].text {
			case "format":
				return ev.format(str, args)
			case "join":
				return ev.join(str, args)
			}
		}
		return holePat()
	}
	if len(toks) == 1 && toks[0].kind == tkName {
		return ev.name(toks[0].text)
	}
	if len(toks) == 3 && toks[0].is(tkName, "__spec__") && toks[1].is(tkOp, ".") {
		switch toks[2].text {
		case "name":
			return ev.name("__name__")
		case "parent":
			return ev.name("__package__")
		}
	}
	return holePat()
}

func (ev *evaluator) name(n string) pattern {
	switch {
	case n == "__name__" && ev.modName != "":
		return litPat(ev.modName)
	case n == "__package__" && ev.pkgName != "":
		return litPat(ev.pkgName)
	}
	return holePat()
}

// literals evaluates adjacent literals ("a" "b", f"{__name__}.x").
func (ev *evaluator) literals(toks []token) pattern {
	out := ev.builder()
	for _, t := range toks {
		if t.str.opaque { // see maxNesting
			ev.opaque = true
			return holePat()
		}
		if t.str.bytes {
			return holePat() // a module name is never bytes
		}
		for _, part := range t.str.parts {
			if part.field {
				out.add(ev.name(part.expr))
			} else {
				out.addLit(part.lit)
			}
		}
	}
	if p := out.pattern(); p != nil {
		return p
	}
	return pattern{} // the empty string
}

// percent evaluates "fmt" % args; only %s takes an argument's value, any other
// conversion is a hole.
func (ev *evaluator) percent(format pattern, rhs []token) pattern {
	text, ok := format.literal()
	if !ok || !ev.spend(len(text)+len(rhs)) {
		return holePat()
	}
	var args [][]token
	if rhs[0].is(tkOp, "(") && closing(rhs, 0) == len(rhs)-1 {
		args, _ = splitTop(rhs[1:len(rhs)-1], func(t token) bool { return t.is(tkOp, ",") })
		if n := len(args); n > 1 && len(args[n-1]) == 0 {
			args = args[:n-1] // ("x",)
		}
	} else {
		args = [][]token{rhs}
	}
	out := ev.builder()
	next := 0
	for i := 0; i < len(text); i++ {
		if text[i] != '%' {
			// The run up to the next %, in one piece.
			end := strings.IndexByte(text[i:], '%')
			if end < 0 {
				end = len(text) - i
			}
			out.addLit(text[i : i+end])
			i += end - 1
			continue
		}
		i++
		if i < len(text) && text[i] == '%' {
			out.addLit("%")
			continue
		}
		if i < len(text) && text[i] == '(' {
			return holePat() // %(key)s takes a mapping
		}
		for i < len(text) && strings.IndexByte("-+ #0123456789.*", text[i]) >= 0 {
			i++
		}
		if i >= len(text) || next >= len(args) {
			return holePat()
		}
		if text[i] == 's' {
			out.add(ev.expr(args[next]))
		} else {
			out.add(holePat())
		}
		next++
	}
	if next != len(args) {
		return holePat()
	}
	return out.pattern()
}

// format evaluates "fmt".format(args) for plain {}, {0} and {name} fields.
func (ev *evaluator) format(format pattern, args []callArg) pattern {
	text, ok := format.literal()
	if !ok || !ev.spend(len(text)) {
		return holePat()
	}
	out := ev.builder()
	auto := 0
	// Each argument is evaluated once, however many fields name it: "{0}{0}{0}…"
	// over a long argument would otherwise cost fields × argument.
	vals := map[fieldKey]pattern{}
	for i := 0; i < len(text); i++ {
		c := text[i]
		if (c == '{' || c == '}') && i+1 < len(text) && text[i+1] == c {
			out.addLit(text[i : i+1])
			i++
			continue
		}
		if c != '{' {
			// The run up to the next brace, in one piece.
			end := strings.IndexAny(text[i:], "{}")
			if end < 0 {
				end = len(text) - i
			} else if end == 0 { // a lone '}', kept as written
				end = 1
			}
			out.addLit(text[i : i+end])
			i += end - 1
			continue
		}
		end := strings.IndexByte(text[i:], '}')
		if end < 0 {
			return holePat()
		}
		field := text[i+1 : i+end]
		i += end
		if strings.ContainsAny(field, "!:.[") { // conversion, spec, attribute, index
			out.add(holePat())
			if field == "" || strings.IndexAny(field, "!:.[") == 0 {
				auto++
			}
			continue
		}
		key := fieldKey{idx: -1, kw: field}
		if field == "" || isAllDigits(field) {
			key.idx, key.kw = auto, ""
			if field == "" {
				auto++
			} else {
				key.idx = atoi(field)
			}
		}
		val, ok := vals[key]
		if !ok {
			if !ev.spend(len(args)) { // looking the argument up
				return holePat()
			}
			var toks []token
			found := false
			if key.idx >= 0 {
				toks, found = positional(args, key.idx)
			} else {
				toks, found = keyword(args, key.kw)
			}
			if !found {
				return holePat()
			}
			val = ev.expr(toks)
			vals[key] = val
		}
		out.add(val)
	}
	return out.pattern()
}

// fieldKey names the argument of a format field: by position (idx) or by keyword.
type fieldKey struct {
	idx int // -1 for a keyword
	kw  string
}

// join evaluates "sep".join([a, b, ...]) over a literal list or tuple.
func (ev *evaluator) join(sep pattern, args []callArg) pattern {
	if len(args) != 1 || args[0].kw != "" || args[0].star {
		return holePat()
	}
	seq := args[0].toks
	if !ev.spend(2 * len(seq)) { // closing and splitTop
		return holePat()
	}
	if len(seq) < 2 || !(seq[0].is(tkOp, "[") || seq[0].is(tkOp, "(")) || closing(seq, 0) != len(seq)-1 {
		return holePat()
	}
	items, _ := splitTop(seq[1:len(seq)-1], func(t token) bool { return t.is(tkOp, ",") })
	if len(items) > 0 && len(items[len(items)-1]) == 0 {
		items = items[:len(items)-1] // trailing comma
	}
	out := ev.builder()
	for k, item := range items {
		if k > 0 {
			out.add(sep)
		}
		out.add(ev.expr(item))
	}
	if p := out.pattern(); p != nil {
		return p
	}
	return pattern{}
}

// callArg is one argument of a call: keyword name (if any) and value tokens.
type callArg struct {
	kw   string
	star bool // *args or **kwargs: what it holds is unknown
	toks []token
}

func splitArgs(toks []token) []callArg {
	parts, _ := splitTop(toks, func(t token) bool { return t.is(tkOp, ",") })
	var args []callArg
	for _, p := range parts {
		switch {
		case len(p) == 0: // trailing comma
		case p[0].is(tkOp, "*") || p[0].is(tkOp, "**"):
			args = append(args, callArg{star: true, toks: p[1:]})
		case len(p) >= 2 && p[0].kind == tkName && p[1].is(tkOp, "="):
			args = append(args, callArg{kw: p[0].text, toks: p[2:]})
		default:
			args = append(args, callArg{toks: p})
		}
	}
	return args
}

// positional returns the idx-th positional argument; found is false when it is absent
// or hidden behind a *args.
func positional(args []callArg, idx int) ([]token, bool) {
	n := 0
	for _, a := range args {
		if a.kw != "" {
			continue
		}
		if a.star {
			return nil, false
		}
		if n == idx {
			return a.toks, true
		}
		n++
	}
	return nil, false
}

func keyword(args []callArg, name string) ([]token, bool) {
	for _, a := range args {
		if a.kw == name {
			return a.toks, true
		}
	}
	return nil, false
}

// argument finds a parameter passed either by position or by keyword.
func argument(args []callArg, idx int, name string) ([]token, bool) {
	if v, ok := keyword(args, name); ok {
		return v, true
	}
	return positional(args, idx)
}

// bracket tells an opening bracket (+1) and a closing one (-1) from other tokens (0).
func bracket(t token) int {
	if t.kind != tkOp || len(t.text) != 1 {
		return 0
	}
	switch t.text[0] {
	case '(', '[', '{':
		return 1
	case ')', ']', '}':
		return -1
	}
	return 0
}

// splitTop splits tokens at separators outside brackets and reports how many it found.
func splitTop(toks []token, sep func(token) bool) ([][]token, int) {
	var parts [][]token
	depth, from, n := 0, 0, 0
	for i, t := range toks {
		depth += bracket(t)
		if depth == 0 && sep(t) {
			parts = append(parts, toks[from:i])
			from = i + 1
			n++
		}
	}
	return append(parts, toks[from:]), n
}

// closing returns the index of the bracket closing toks[open], or -1.
func closing(toks []token, open int) int {
	depth := 0
	for i := open; i < len(toks); i++ {
		switch bracket(toks[i]) {
		case 1:
			depth++
		case -1:
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

func isAllDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s) && n < 1<<20; i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
