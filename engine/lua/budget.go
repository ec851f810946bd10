package lua

import (
	"fmt"
	"math"
	"runtime/metrics"
	"time"
	"unsafe"

	glua "github.com/yuin/gopher-lua"
)

// The budget of one handler call.
//
// gopher-lua checks its context before every VM instruction (vm.go,
// mainLoopWithContext: `select { case <-L.ctx.Done(): ... default: }`). The
// budget is that context: its Done method counts the instruction and returns
// nil (a nil channel never selects) until the call is over budget, then a
// closed channel, so the VM raises Err() at the next instruction, and at
// every instruction after it: a script's pcall can catch the error but can
// never run another instruction.
//
// Three limits, checked in this order of cost:
//
//   - instructions (deterministic): every VM instruction counts 1; host
//     functions whose work grows with their input (ctx.near, ctx.keys,
//     string and table helpers, pattern matching, JSON encoding of event
//     data) charge what they do in the same unit;
//   - memory (deterministic): bytes of the allocations that can be large,
//     counted before they happen: strings built by concatenation and the
//     string helpers, array slots (see vmprobe.go), JSON data. The small
//     fixed-size allocations of other instructions are bounded by the
//     instruction limit;
//   - time (a backstop, not deterministic): the wall clock is read every
//     clockEvery instructions. It only catches what the other two cannot
//     see, such as a stalled machine; with the defaults a call runs out of
//     instructions long before it runs out of time.
//   - the process's allocations (a backstop, not deterministic): also every
//     clockEvery instructions, the Go heap's allocation counter. A call
//     during which the process allocated more than heapFactor times the
//     memory budget is stopped: this catches allocations the accounting
//     does not see (error messages the VM builds from huge strings, say).
type budget struct {
	L *glua.LState

	left  int64 // instructions until the next slow check
	chunk int64 // what left started from at the last slow check
	spent int64 // instructions counted before the current chunk

	maxInstr  int64
	mem       int64 // bytes accounted
	maxMem    int64
	maxString int
	maxTime   time.Duration
	start     time.Time
	probe     bool // inspect CONCAT, SETTABLE and SETLIST (vmprobe.go)

	err  *budgetError  // why the call was stopped; nil within budget
	done chan struct{} // closed; returned by Done once err is set

	heap      []metrics.Sample // the process's allocation counter
	heapStart uint64           // its value at the first slow check, 0 before
}

// heapFactor times the memory budget, plus heapSlack, is how much the
// process may allocate during one call.
const (
	heapFactor = 4
	heapSlack  = 64 << 20
)

// clockEvery is how many instructions run between two reads of the clock.
const clockEvery = 1024

// maxArrayGap is the largest run of nils a single write may add to a
// table's dense array (gopher-lua fills the gap; 16 bytes a slot).
const maxArrayGap = 1 << 16

// budgetError is the error the VM raises when a call runs out of budget.
type budgetError struct {
	sentinel error // ErrBudget or ErrMemory
	msg      string
}

func (e *budgetError) Error() string { return e.msg }
func (e *budgetError) Unwrap() error { return e.sentinel }

func newBudget(L *glua.LState) *budget {
	b := &budget{L: L, done: make(chan struct{}), probe: probeOK,
		heap: []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}}
	close(b.done)
	return b
}

// reset starts a call with these limits.
func (b *budget) reset(instr, mem int64, maxString int, maxTime time.Duration) {
	b.maxInstr, b.maxMem, b.maxString, b.maxTime = instr, mem, maxString, maxTime
	b.spent, b.mem, b.err, b.heapStart = 0, 0, nil, 0
	b.chunk = min(clockEvery, instr)
	b.left = b.chunk
	b.start = time.Time{} // read at the first slow check: most calls never need it
}

// used is the number of instructions counted so far in this call.
func (b *budget) used() int64 { return b.spent + b.chunk - b.left }

// context.Context. Deadline and Value are never used by gopher-lua.

func (b *budget) Deadline() (time.Time, bool) { return time.Time{}, false }
func (b *budget) Value(any) any               { return nil }

// Err is what the VM raises once Done has returned a closed channel.
func (b *budget) Err() error {
	if b.err == nil {
		return nil
	}
	return b.err
}

// Done is called by the VM before each instruction.
func (b *budget) Done() <-chan struct{} {
	b.left--
	if b.left < 0 && b.slow() {
		return b.done
	}
	if b.probe {
		// The VM calls Done right after moving the program counter past
		// the instruction it is about to run, always in a Lua frame.
		cf := *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(b.L), offFrame))
		fn := *(**glua.LFunction)(unsafe.Add(cf, offFn))
		inst := fn.Proto.Code[*(*int)(unsafe.Add(cf, offPc))-1]
		if dangerous>>(inst>>26)&1 != 0 && b.inspect(frame(cf), fn, inst) {
			return b.done
		}
	}
	return nil
}

// slow runs when the countdown ends: it accounts the chunk, then checks the
// instruction limit and the clock. It reports whether the call must stop.
func (b *budget) slow() bool {
	if b.err != nil {
		b.left = 0
		return true
	}
	b.spent += b.chunk - b.left
	if b.spent > b.maxInstr {
		b.fail(ErrBudget, "instruction budget exceeded (%d instructions)", b.maxInstr)
		return true
	}
	if b.start.IsZero() {
		b.start = time.Now()
	} else if time.Since(b.start) > b.maxTime {
		b.fail(ErrBudget, "time budget exceeded (%s)", b.maxTime)
		return true
	}
	metrics.Read(b.heap)
	if v := b.heap[0].Value; v.Kind() == metrics.KindUint64 {
		switch now := v.Uint64(); {
		case b.heapStart == 0:
			b.heapStart = now
		case now-b.heapStart > uint64(heapFactor*b.maxMem+heapSlack):
			b.fail(ErrMemory, "memory budget exceeded (the process allocated %d MB during the call)", (now-b.heapStart)>>20)
			return true
		}
	}
	b.chunk = min(clockEvery, b.maxInstr-b.spent)
	b.left = b.chunk
	return false
}

func (b *budget) fail(sentinel error, format string, args ...any) {
	if b.err == nil {
		b.err = &budgetError{sentinel: sentinel, msg: fmt.Sprintf(format, args...)}
	}
	b.left = 0
}

// charge counts n instructions of host work. It reports whether the call
// is now over budget.
func (b *budget) charge(n int64) bool {
	if b.err != nil {
		return true
	}
	b.left -= n
	return b.left < 0 && b.slow()
}

// allocate accounts n bytes. It reports whether the call is now over budget.
func (b *budget) allocate(n int64) bool {
	if b.err != nil {
		return true
	}
	b.mem += n
	if b.mem > b.maxMem {
		b.fail(ErrMemory, "memory budget exceeded (%d bytes allocated, limit %d)", b.mem, b.maxMem)
		return true
	}
	return false
}

// str accounts a string of n bytes about to be built by what.
func (b *budget) str(n int64, what string) bool {
	if n > int64(b.maxString) {
		b.fail(ErrMemory, "%s: a string of %d bytes exceeds the limit of %d", what, n, b.maxString)
		return true
	}
	return b.allocate(n) || b.charge(n/64)
}

// arrayWrite accounts t[k] = v for a number key: the nils gopher-lua adds
// to the dense array of t when k is past its end.
func (b *budget) arrayWrite(t *glua.LTable, k float64) bool {
	if !(k >= 1 && k < float64(glua.MaxArrayIndex)) || k != math.Trunc(k) {
		return false // stored in the hash part
	}
	n := 0
	if t.Metatable == glua.LNil {
		n = arrayLen(t) // behind a metatable the target is unknown: count from 0
	}
	gap := int64(k) - int64(n) - 1
	if gap <= 0 {
		return false
	}
	if gap > maxArrayGap {
		b.fail(ErrMemory, "t[%d]: the key is %d past the end of the table's array, which gopher-lua would fill with nils (%d MB); use a string key",
			int64(k), gap, gap*16>>20)
		return true
	}
	return b.allocate(16 * gap)
}

// inspect measures the CONCAT, SETTABLE or SETLIST about to run.
func (b *budget) inspect(cf frame, fn *glua.LFunction, inst uint32) bool {
	arr, base, top := registers(b.L, cf)
	a := int(inst>>18) & 0xff
	bb := int(inst & 0x1ff)
	c := int(inst>>9) & 0x1ff
	switch int(inst >> 26) {
	case glua.OP_CONCAT:
		n := int64(0)
		for i := bb; i <= c; i++ {
			switch v := reg(arr, base+i).(type) {
			case glua.LString:
				n += int64(len(v))
			case glua.LNumber:
				n += 24
			}
		}
		return b.str(n, "concatenation (..)")
	case glua.OP_SETTABLE:
		t, ok := reg(arr, base+a).(*glua.LTable)
		if !ok {
			return false
		}
		k, ok := rk(fn, arr, base, bb).(glua.LNumber)
		if !ok {
			return false
		}
		return b.arrayWrite(t, float64(k))
	case glua.OP_SETLIST:
		n := bb
		if bb == 0 {
			n = top - (base + a) - 1
		}
		return n > 0 && b.allocate(16*int64(n))
	}
	return false
}
