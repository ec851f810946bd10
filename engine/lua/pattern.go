package lua

import (
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// Lua 5.1 pattern matching (string.find, match, gmatch, gsub), ported from
// lstrlib.c (Lua 5.1.5, MIT licence, PUC-Rio) with two additions: every step
// is charged to the call's instruction budget, and recursion is bounded.
//
// gopher-lua's own matcher (package pm) backtracks with one Go call per
// repetition (up to a million nested calls) and cannot be interrupted, so
// `string.find(string.rep("a", 1e5), "a*a*a*a*b")` would run for hours inside
// a single VM instruction, beyond the reach of any budget.

const (
	maxCaptures    = 32
	capUnfinished  = -1
	capPosition    = -2
	maxMatchDepth  = 200 // as Lua 5.2's MAXCCALLS
	patternSpecial = "^$*+?.([%-"
	stepsPerCharge = 4 // pattern steps per budget instruction (a step costs about a quarter of a VM instruction)
)

type capture struct{ init, len int }

type matcher struct {
	L       *glua.LState
	b       *budget
	src     string
	pat     string
	level   int
	depth   int
	steps   int
	capture [maxCaptures]capture
}

// patternError is raised (as a panic) inside the matcher and turned into a
// Lua error by the string functions.
type patternError struct{ msg string }

func (m *matcher) fail(msg string) { panic(patternError{msg}) }

// step charges the budget every stepsPerCharge steps.
func (m *matcher) step() {
	m.steps++
	if m.steps%stepsPerCharge == 0 && m.b != nil && m.b.charge(1) {
		panic(patternError{m.b.err.msg})
	}
}

func (m *matcher) classEnd(p int) int {
	pat := m.pat
	c := pat[p]
	p++
	switch c {
	case '%':
		if p >= len(pat) {
			m.fail("malformed pattern (ends with '%')")
		}
		return p + 1
	case '[':
		if p < len(pat) && pat[p] == '^' {
			p++
		}
		for { // look for a ']'
			if p >= len(pat) {
				m.fail("malformed pattern (missing ']')")
			}
			c := pat[p]
			p++
			if c == '%' && p < len(pat) {
				p++ // skip escapes (e.g. '%]')
			}
			if p < len(pat) && pat[p] == ']' {
				return p + 1
			}
			if p >= len(pat) {
				m.fail("malformed pattern (missing ']')")
			}
		}
	}
	return p
}

func isalpha(c byte) bool  { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isdigit(c byte) bool  { return c >= '0' && c <= '9' }
func islower(c byte) bool  { return c >= 'a' && c <= 'z' }
func isupper(c byte) bool  { return c >= 'A' && c <= 'Z' }
func isspace(c byte) bool  { return c == ' ' || c >= '\t' && c <= '\r' }
func iscntrl(c byte) bool  { return c < 0x20 || c == 0x7f }
func ispunct(c byte) bool  { return c > 0x20 && c < 0x7f && !isalpha(c) && !isdigit(c) }
func isxdigit(c byte) bool { return isdigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func matchClass(c, cl byte) bool {
	var res bool
	switch cl | 0x20 { // tolower for letters
	case 'a':
		res = isalpha(c)
	case 'c':
		res = iscntrl(c)
	case 'd':
		res = isdigit(c)
	case 'l':
		res = islower(c)
	case 'p':
		res = ispunct(c)
	case 's':
		res = isspace(c)
	case 'u':
		res = isupper(c)
	case 'w':
		res = isalpha(c) || isdigit(c)
	case 'x':
		res = isxdigit(c)
	case 'z':
		res = c == 0
	default:
		return cl == c
	}
	if !isalpha(cl) {
		return cl == c
	}
	if islower(cl) {
		return res
	}
	return !res
}

// matchBracketClass: p is at '[', ec at the closing ']'.
func (m *matcher) matchBracketClass(c byte, p, ec int) bool {
	pat := m.pat
	sig := true
	if pat[p+1] == '^' {
		sig = false
		p++
	}
	for p++; p < ec; p++ {
		switch {
		case pat[p] == '%':
			p++
			if matchClass(c, pat[p]) {
				return sig
			}
		case p+2 < ec && pat[p+1] == '-':
			p += 2
			if pat[p-2] <= c && c <= pat[p] {
				return sig
			}
		case pat[p] == c:
			return sig
		}
	}
	return !sig
}

func (m *matcher) singleMatch(s, p, ep int) bool {
	if s >= len(m.src) {
		return false
	}
	c := m.src[s]
	switch m.pat[p] {
	case '.':
		return true
	case '%':
		return matchClass(c, m.pat[p+1])
	case '[':
		return m.matchBracketClass(c, p, ep-1)
	}
	return m.pat[p] == c
}

func (m *matcher) matchBalance(s, p int) int {
	if p+1 >= len(m.pat) {
		m.fail("unbalanced pattern")
	}
	if s >= len(m.src) || m.src[s] != m.pat[p] {
		return -1
	}
	b, e := m.pat[p], m.pat[p+1]
	cont := 1
	for s++; s < len(m.src); s++ {
		m.step()
		switch m.src[s] {
		case e:
			cont--
			if cont == 0 {
				return s + 1
			}
		case b:
			cont++
		}
	}
	return -1
}

func (m *matcher) maxExpand(s, p, ep int) int {
	i := 0
	for m.singleMatch(s+i, p, ep) {
		m.step()
		i++
	}
	for ; i >= 0; i-- { // try with the most repetitions first
		if res := m.match(s+i, ep+1); res != -1 {
			return res
		}
	}
	return -1
}

func (m *matcher) minExpand(s, p, ep int) int {
	for {
		if res := m.match(s, ep+1); res != -1 {
			return res
		}
		if !m.singleMatch(s, p, ep) {
			return -1
		}
		s++
	}
}

func (m *matcher) startCapture(s, p, what int) int {
	if m.level >= maxCaptures {
		m.fail("too many captures")
	}
	m.capture[m.level] = capture{init: s, len: what}
	m.level++
	res := m.match(s, p)
	if res == -1 {
		m.level--
	}
	return res
}

func (m *matcher) endCapture(s, p int) int {
	l := m.captureToClose()
	m.capture[l].len = s - m.capture[l].init
	res := m.match(s, p)
	if res == -1 {
		m.capture[l].len = capUnfinished
	}
	return res
}

func (m *matcher) captureToClose() int {
	for l := m.level - 1; l >= 0; l-- {
		if m.capture[l].len == capUnfinished {
			return l
		}
	}
	m.fail("invalid pattern capture")
	return 0
}

func (m *matcher) matchCapture(s int, l byte) int {
	i := int(l) - '1'
	if i < 0 || i >= m.level || m.capture[i].len == capUnfinished {
		m.fail("invalid capture index")
	}
	c := m.capture[i]
	if len(m.src)-s >= c.len && m.src[c.init:c.init+c.len] == m.src[s:s+c.len] {
		return s + c.len
	}
	return -1
}

// match returns the end of the match of pat[p:] at src[s:], or -1.
func (m *matcher) match(s, p int) int {
	m.depth++
	defer func() { m.depth-- }()
	if m.depth > maxMatchDepth {
		m.fail("pattern too complex")
	}
	pat := m.pat
	for {
		m.step()
		if p >= len(pat) {
			return s // end of pattern
		}
		switch pat[p] {
		case '(':
			if p+1 < len(pat) && pat[p+1] == ')' {
				return m.startCapture(s, p+2, capPosition)
			}
			return m.startCapture(s, p+1, capUnfinished)
		case ')':
			return m.endCapture(s, p+1)
		case '$':
			if p+1 == len(pat) {
				if s == len(m.src) {
					return s
				}
				return -1
			}
		case '%':
			if p+1 < len(pat) {
				switch c := pat[p+1]; {
				case c == 'b':
					if s = m.matchBalance(s, p+2); s == -1 {
						return -1
					}
					p += 4
					continue
				case c == 'f':
					p += 2
					if p >= len(pat) || pat[p] != '[' {
						m.fail("missing '[' after '%f' in pattern")
					}
					ep := m.classEnd(p)
					var prev, cur byte
					if s > 0 {
						prev = m.src[s-1]
					}
					if s < len(m.src) {
						cur = m.src[s]
					}
					if m.matchBracketClass(prev, p, ep-1) || !m.matchBracketClass(cur, p, ep-1) {
						return -1
					}
					p = ep
					continue
				case isdigit(c):
					if s = m.matchCapture(s, c); s == -1 {
						return -1
					}
					p += 2
					continue
				}
			}
		}
		// A single-character item, maybe repeated.
		ep := m.classEnd(p)
		matched := m.singleMatch(s, p, ep)
		if ep < len(pat) {
			switch pat[ep] {
			case '?':
				if matched {
					if res := m.match(s+1, ep+1); res != -1 {
						return res
					}
				}
				p = ep + 1
				continue
			case '*':
				return m.maxExpand(s, p, ep)
			case '+':
				if !matched {
					return -1
				}
				return m.maxExpand(s+1, p, ep)
			case '-':
				return m.minExpand(s, p, ep)
			}
		}
		if !matched {
			return -1
		}
		s, p = s+1, ep
	}
}

// captureValue returns capture i of a match of src[s:e].
func (m *matcher) captureValue(i, s, e int) glua.LValue {
	if i >= m.level {
		if i == 0 {
			return glua.LString(m.src[s:e])
		}
		m.fail("invalid capture index")
	}
	c := m.capture[i]
	switch c.len {
	case capUnfinished:
		m.fail("unfinished capture")
	case capPosition:
		return glua.LNumber(c.init + 1)
	}
	return glua.LString(m.src[c.init : c.init+c.len])
}

// pushCaptures pushes the captures (or the whole match when there are
// none and whole is true) and returns how many.
func (m *matcher) pushCaptures(s, e int, whole bool) int {
	n := m.level
	if n == 0 && whole {
		n = 1
	}
	for i := 0; i < n; i++ {
		m.L.Push(m.captureValue(i, s, e))
	}
	return n
}

// guard runs f, turning a matcher failure into a Lua error.
func (r *Runtime) guard(L *glua.LState, what string, f func()) {
	var msg string
	func() {
		defer func() {
			if p := recover(); p != nil {
				pe, ok := p.(patternError)
				if !ok {
					panic(p)
				}
				msg = pe.msg
			}
		}()
		f()
	}()
	if msg != "" {
		L.RaiseError("%s: %s", what, msg)
	}
}

// strIndex turns a Lua string position (1-based, negative from the end)
// into an offset in [0, n].
func strIndex(pos, n int) int {
	if pos < 0 {
		pos += n + 1
	}
	pos--
	return max(0, min(pos, n))
}

func (r *Runtime) luaFind(L *glua.LState) int  { return r.findAux(L, true) }
func (r *Runtime) luaMatch(L *glua.LState) int { return r.findAux(L, false) }

func (r *Runtime) findAux(L *glua.LState, find bool) int {
	s := L.CheckString(1)
	p := L.CheckString(2)
	init := strIndex(L.OptInt(3, 1), len(s))
	if find && (glua.LVAsBool(L.Get(4)) || !strings.ContainsAny(p, patternSpecial)) {
		if r.budget.charge(int64(len(s)-init) / stepsPerCharge) {
			L.RaiseError("%s", r.budget.err.msg)
		}
		if i := strings.Index(s[init:], p); i >= 0 {
			L.Push(glua.LNumber(init + i + 1))
			L.Push(glua.LNumber(init + i + len(p)))
			return 2
		}
		L.Push(glua.LNil)
		return 1
	}
	name := "string.match"
	if find {
		name = "string.find"
	}
	n := 0
	r.guard(L, name, func() {
		m := &matcher{L: L, b: r.budget, src: s, pat: p}
		anchor := strings.HasPrefix(p, "^")
		pstart := 0
		if anchor {
			pstart = 1
		}
		for s1 := init; ; s1++ {
			m.level = 0
			if e := m.match(s1, pstart); e != -1 {
				if find {
					L.Push(glua.LNumber(s1 + 1))
					L.Push(glua.LNumber(e))
					n = 2 + m.pushCaptures(0, 0, false)
				} else {
					n = m.pushCaptures(s1, e, true)
				}
				return
			}
			if s1 >= len(s) || anchor {
				break
			}
		}
		L.Push(glua.LNil)
		n = 1
	})
	return n
}

func (r *Runtime) luaGmatch(L *glua.LState) int {
	s := L.CheckString(1)
	p := L.CheckString(2)
	pos := 0
	done := false
	L.Push(L.NewFunction(func(L *glua.LState) int {
		n := 0
		r.guard(L, "string.gmatch", func() {
			m := &matcher{L: L, b: r.budget, src: s, pat: p}
			for ; !done && pos <= len(s); pos++ {
				m.level = 0
				if e := m.match(pos, 0); e != -1 {
					start := pos
					pos = e
					if e == start {
						pos++ // an empty match: move on at least one
					}
					n = m.pushCaptures(start, e, true)
					return
				}
			}
			done = true
		})
		return n
	}))
	return 1
}

// luaGsub is string.gsub with the result capped at Options.MaxStringBytes.
func (r *Runtime) luaGsub(L *glua.LState) int {
	src := L.CheckString(1)
	p := L.CheckString(2)
	L.CheckTypes(3, glua.LTNumber, glua.LTString, glua.LTTable, glua.LTFunction)
	repl := L.Get(3)
	maxN := L.OptInt(4, len(src)+1)
	limit := r.prog.opts.MaxStringBytes
	var b strings.Builder
	add := func(s string) {
		if b.Len()+len(s) > limit {
			r.budget.fail(ErrMemory, "string.gsub: a string of more than %d bytes exceeds the limit", limit)
			L.RaiseError("%s", r.budget.err.msg)
		}
		b.WriteString(s)
	}
	n := 0
	r.guard(L, "string.gsub", func() {
		m := &matcher{L: L, b: r.budget, src: src, pat: p}
		anchor := strings.HasPrefix(p, "^")
		pstart := 0
		if anchor {
			pstart = 1
		}
		s := 0
		for n < maxN {
			m.level = 0
			e := m.match(s, pstart)
			if e != -1 {
				n++
				add(r.gsubValue(L, m, repl, s, e))
			}
			switch {
			case e != -1 && e > s:
				s = e
			case s < len(src):
				add(src[s : s+1])
				s++
			default:
				e = -2 // end of the subject
			}
			if e == -2 || anchor {
				break
			}
		}
		add(src[min(s, len(src)):])
	})
	out := b.String()
	if r.budget.str(int64(len(out)), "string.gsub") {
		L.RaiseError("%s", r.budget.err.msg)
	}
	L.Push(glua.LString(out))
	L.Push(glua.LNumber(n))
	return 2
}

// gsubValue is the replacement of the match src[s:e] (lstrlib's add_value).
func (r *Runtime) gsubValue(L *glua.LState, m *matcher, repl glua.LValue, s, e int) string {
	var out glua.LValue
	switch repl := repl.(type) {
	case glua.LString, glua.LNumber:
		news := glua.LVAsString(repl)
		if strings.IndexByte(news, '%') < 0 {
			return news
		}
		var b strings.Builder
		for i := 0; i < len(news); i++ {
			c := news[i]
			if c != '%' {
				b.WriteByte(c)
				continue
			}
			i++
			switch {
			case i >= len(news):
				// a trailing '%' is dropped, as in Lua 5.1
			case !isdigit(news[i]):
				b.WriteByte(news[i])
			case news[i] == '0':
				b.WriteString(m.src[s:e])
			default:
				b.WriteString(glua.LVAsString(m.captureValue(int(news[i]-'1'), s, e)))
			}
		}
		return b.String()
	case *glua.LFunction:
		L.Push(repl)
		nargs := m.pushCaptures(s, e, true)
		L.Call(nargs, 1)
		out = L.Get(-1)
		L.Pop(1)
	case *glua.LTable:
		out = L.GetTable(repl, m.captureValue(0, s, e))
	}
	switch {
	case !glua.LVAsBool(out):
		return m.src[s:e] // nil or false keeps the original text
	case glua.LVCanConvToString(out):
		return glua.LVAsString(out)
	}
	m.fail("invalid replacement value (a " + out.Type().String() + ")")
	return ""
}
