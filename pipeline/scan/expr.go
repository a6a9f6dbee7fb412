package scan

import (
	"regexp"
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
	var out pattern
	for _, p := range ps {
		for _, s := range p {
			if !s.hole && s.lit == "" {
				continue
			}
			if n := len(out); n > 0 && out[n-1].hole == s.hole {
				if !s.hole {
					out[n-1].lit += s.lit
				}
				continue
			}
			out = append(out, s)
		}
	}
	return out
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
type evaluator struct {
	modName string // the file's __name__ ("" if the file is not importable)
	pkgName string // the file's __package__
}

func (ev evaluator) expr(toks []token) pattern {
	if len(toks) == 0 {
		return holePat()
	}
	parts, commas := splitTop(toks, func(t token) bool { return t.is(tkOp, ",") })
	if commas > 0 {
		return holePat() // a tuple, not a string
	}
	parts, _ = splitTop(parts[0], func(t token) bool { return t.is(tkOp, "+") })
	var out pattern
	for _, part := range parts {
		out = cat(out, ev.term(part))
	}
	return out
}

func (ev evaluator) term(toks []token) pattern {
	if len(toks) == 0 {
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

func (ev evaluator) name(n string) pattern {
	switch {
	case n == "__name__" && ev.modName != "":
		return litPat(ev.modName)
	case n == "__package__" && ev.pkgName != "":
		return litPat(ev.pkgName)
	}
	return holePat()
}

// literals evaluates adjacent literals ("a" "b", f"{__name__}.x").
func (ev evaluator) literals(toks []token) pattern {
	var out pattern
	for _, t := range toks {
		if t.str.bytes {
			return holePat() // a module name is never bytes
		}
		for _, part := range t.str.parts {
			if part.field {
				out = cat(out, ev.name(part.expr))
			} else {
				out = cat(out, litPat(part.lit))
			}
		}
	}
	if out == nil {
		return pattern{} // the empty string
	}
	return out
}

// percent evaluates "fmt" % args; only %s takes an argument's value, any other
// conversion is a hole.
func (ev evaluator) percent(format pattern, rhs []token) pattern {
	text, ok := format.literal()
	if !ok {
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
	var out pattern
	next := 0
	for i := 0; i < len(text); i++ {
		if text[i] != '%' {
			out = cat(out, litPat(text[i:i+1]))
			continue
		}
		i++
		if i < len(text) && text[i] == '%' {
			out = cat(out, litPat("%"))
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
			out = cat(out, ev.expr(args[next]))
		} else {
			out = cat(out, holePat())
		}
		next++
	}
	if next != len(args) {
		return holePat()
	}
	return out
}

// format evaluates "fmt".format(args) for plain {}, {0} and {name} fields.
func (ev evaluator) format(format pattern, args []callArg) pattern {
	text, ok := format.literal()
	if !ok {
		return holePat()
	}
	var out pattern
	auto := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		if (c == '{' || c == '}') && i+1 < len(text) && text[i+1] == c {
			out = cat(out, litPat(text[i:i+1]))
			i++
			continue
		}
		if c != '{' {
			out = cat(out, litPat(text[i:i+1]))
			continue
		}
		end := strings.IndexByte(text[i:], '}')
		if end < 0 {
			return holePat()
		}
		field := text[i+1 : i+end]
		i += end
		if strings.ContainsAny(field, "!:.[") { // conversion, spec, attribute, index
			out = cat(out, holePat())
			if field == "" || strings.IndexAny(field, "!:.[") == 0 {
				auto++
			}
			continue
		}
		var val []token
		found := false
		switch {
		case field == "" || isAllDigits(field):
			idx := auto
			if field == "" {
				auto++
			} else {
				idx = atoi(field)
			}
			val, found = positional(args, idx)
		default:
			val, found = keyword(args, field)
		}
		if !found {
			return holePat()
		}
		out = cat(out, ev.expr(val))
	}
	return out
}

// join evaluates "sep".join([a, b, ...]) over a literal list or tuple.
func (ev evaluator) join(sep pattern, args []callArg) pattern {
	if len(args) != 1 || args[0].kw != "" || args[0].star {
		return holePat()
	}
	seq := args[0].toks
	if len(seq) < 2 || !(seq[0].is(tkOp, "[") || seq[0].is(tkOp, "(")) || closing(seq, 0) != len(seq)-1 {
		return holePat()
	}
	items, _ := splitTop(seq[1:len(seq)-1], func(t token) bool { return t.is(tkOp, ",") })
	if len(items) > 0 && len(items[len(items)-1]) == 0 {
		items = items[:len(items)-1] // trailing comma
	}
	var out pattern
	for k, item := range items {
		if k > 0 {
			out = cat(out, sep)
		}
		out = cat(out, ev.expr(item))
	}
	if out == nil {
		return pattern{}
	}
	return out
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

// splitTop splits tokens at separators outside brackets and reports how many it found.
func splitTop(toks []token, sep func(token) bool) ([][]token, int) {
	var parts [][]token
	depth, from, n := 0, 0, 0
	for i, t := range toks {
		if t.kind == tkOp {
			switch t.text {
			case "(", "[", "{":
				depth++
			case ")", "]", "}":
				depth--
			}
		}
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
		if toks[i].kind != tkOp {
			continue
		}
		switch toks[i].text {
		case "(", "[", "{":
			depth++
		case ")", "]", "}":
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
