package lua

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// The os library of game scripts: time only, and the action's time at that,
// never the machine's clock, so replays give the same results. Dates are
// UTC.
//
//	os.time()              the action's time in whole seconds: floor(ctx.now / 1000)
//	os.time{year=, month=, day=, hour=12, min=0, sec=0}   a UTC date in seconds
//	os.date([fmt [, t]])   format t (default os.time()) like C strftime, in UTC;
//	                       "*t" gives {year, month, day, hour, min, sec, wday, yday, isdst=false}
//	os.difftime(t2, t1)    t2 - t1
//
// Every other os function raises an error.

var osUnavailable = []string{"execute", "exit", "getenv", "remove", "rename", "tmpname", "setlocale", "clock"}

func (r *Runtime) osLib() *glua.LTable {
	L := r.L
	os := L.NewTable()
	os.RawSetString("time", L.NewFunction(r.luaOSTime))
	os.RawSetString("date", L.NewFunction(r.luaOSDate))
	os.RawSetString("difftime", L.NewFunction(func(L *glua.LState) int {
		L.Push(glua.LNumber(L.CheckNumber(1) - L.OptNumber(2, 0)))
		return 1
	}))
	for _, name := range osUnavailable {
		why := "scripts cannot reach the operating system"
		if name == "clock" {
			why = "scripts have no clock but the action's time (os.time, ctx.now)"
		}
		os.RawSetString(name, r.stub("os."+name, why))
	}
	return os
}

// actionSeconds is the action's time in whole seconds.
func (r *Runtime) actionSeconds(L *glua.LState, fn string) int64 {
	if !r.inCall {
		L.RaiseError("%s without a time is the action's time, only available inside a handler", fn)
	}
	return int64(math.Floor(float64(r.call.Now) / 1000))
}

func (r *Runtime) luaOSTime(L *glua.LState) int {
	if L.GetTop() == 0 || L.Get(1) == glua.LNil {
		L.Push(glua.LNumber(r.actionSeconds(L, "os.time()")))
		return 1
	}
	t := L.CheckTable(1)
	field := func(name string, def int, required bool) int {
		v := L.GetField(t, name)
		if v == glua.LNil {
			if required {
				L.RaiseError("os.time: field '%s' missing in date table", name)
			}
			return def
		}
		n, ok := v.(glua.LNumber)
		if !ok {
			if s, isStr := v.(glua.LString); isStr {
				if f, err := strconv.ParseFloat(string(s), 64); err == nil {
					return int(f)
				}
			}
			L.RaiseError("os.time: field '%s' is not a number", name)
		}
		return int(n)
	}
	d := time.Date(field("year", 0, true), time.Month(field("month", 0, true)), field("day", 0, true),
		field("hour", 12, false), field("min", 0, false), field("sec", 0, false), 0, time.UTC)
	L.Push(glua.LNumber(d.Unix()))
	return 1
}

func (r *Runtime) luaOSDate(L *glua.LState) int {
	format := L.OptString(1, "%c")
	var sec int64
	if L.GetTop() >= 2 && L.Get(2) != glua.LNil {
		sec = int64(L.CheckNumber(2))
	} else {
		sec = r.actionSeconds(L, "os.date")
	}
	t := time.Unix(sec, 0).UTC()
	format = strings.TrimPrefix(format, "!")
	if strings.HasPrefix(format, "*t") {
		tb := L.CreateTable(0, 9)
		tb.RawSetString("year", glua.LNumber(t.Year()))
		tb.RawSetString("month", glua.LNumber(t.Month()))
		tb.RawSetString("day", glua.LNumber(t.Day()))
		tb.RawSetString("hour", glua.LNumber(t.Hour()))
		tb.RawSetString("min", glua.LNumber(t.Minute()))
		tb.RawSetString("sec", glua.LNumber(t.Second()))
		tb.RawSetString("wday", glua.LNumber(t.Weekday()+1))
		tb.RawSetString("yday", glua.LNumber(t.YearDay()))
		tb.RawSetString("isdst", glua.LFalse)
		L.Push(tb)
		return 1
	}
	if r.budget.str(int64(len(format))*16, "os.date") {
		r.raiseBudget(L)
	}
	out, err := strftime(format, t)
	if err != nil {
		L.RaiseError("os.date: %s", err.Error())
	}
	L.Push(glua.LString(out))
	return 1
}

// strftime formats t like C's strftime in the "C" locale.
func strftime(format string, t time.Time) (string, error) {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(format) {
			return "", fmt.Errorf("invalid conversion specifier '%%' at the end of %q", format)
		}
		switch format[i] {
		case 'a':
			b.WriteString(t.Format("Mon"))
		case 'A':
			b.WriteString(t.Format("Monday"))
		case 'b', 'h':
			b.WriteString(t.Format("Jan"))
		case 'B':
			b.WriteString(t.Format("January"))
		case 'c':
			b.WriteString(t.Format("Mon Jan  2 15:04:05 2006"))
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'e':
			fmt.Fprintf(&b, "%2d", t.Day())
		case 'D':
			b.WriteString(t.Format("01/02/06"))
		case 'F':
			b.WriteString(t.Format("2006-01-02"))
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'I':
			fmt.Fprintf(&b, "%02d", (t.Hour()+11)%12+1)
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'p':
			b.WriteString(t.Format("PM"))
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'T', 'X':
			b.WriteString(t.Format("15:04:05"))
		case 'u':
			fmt.Fprintf(&b, "%d", (int(t.Weekday())+6)%7+1)
		case 'w':
			fmt.Fprintf(&b, "%d", int(t.Weekday()))
		case 'x':
			b.WriteString(t.Format("01/02/06"))
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'Y':
			fmt.Fprintf(&b, "%d", t.Year())
		case 'z':
			b.WriteString("+0000")
		case 'Z':
			b.WriteString("UTC")
		case 's':
			fmt.Fprintf(&b, "%d", t.Unix())
		case '%':
			b.WriteByte('%')
		default:
			return "", fmt.Errorf("invalid conversion specifier '%%%c' in %q", format[i], format)
		}
	}
	return b.String(), nil
}
