package lua

import (
	"reflect"
	"unsafe"

	glua "github.com/yuin/gopher-lua"
)

// The VM probe: a look at the instruction gopher-lua is about to execute.
//
// gopher-lua (v1.1.2, pinned in go.mod) has no allocation or instruction
// hook. What it has is a context check before every instruction: the
// budget (budget.go) is a context whose Done method is that check. The probe
// lets Done also see *which* instruction comes next and its operands, so the
// three instructions that can allocate without bound in one step are
// measured before they run:
//
//   - CONCAT    R(A) := R(B) .. ... .. R(C): the result is as long as its
//     operands together, so `s = s .. s` doubles a string per instruction;
//   - SETTABLE  R(A)[RK(B)] := RK(C): gopher-lua stores integer keys below
//     67,108,864 in a dense array and fills the gap with nils, so
//     `t[50000000] = 1` allocates ~800 MB in one instruction;
//   - SETLIST with B = 0 (`{f()}`, `{unpack(t)}`): as many slots as values.
//
// The fields it reads (LState.currentFrame, LState.reg, callFrame.Fn/Pc/
// LocalBase, registry.array/top, LTable.array) are unexported, so their
// offsets are found once with reflect and checked against the types the
// probe expects. The state encoder reads LTable.keys the same way (the keys
// a table ever held: state.go, json.go). If a gopher-lua upgrade changes the
// layout, probeOK is false, the budget falls back to counting instructions
// only, the encoder to its slower general path, and TestVMProbe fails so the
// upgrade cannot go unnoticed. Nothing here writes to gopher-lua's memory.

// probeLayout holds the offsets the probe reads.
type probeLayout struct {
	lsFrame, lsReg          uintptr // in LState
	cfFn, cfPc, cfLocalBase uintptr // in callFrame
	regArray, regTop        uintptr // in registry
	tblArray, tblKeys       uintptr // in LTable
}

var (
	probe   probeLayout
	probeOK = discoverProbe()
)

// Lua 5.1 instruction fields (gopher-lua's opcode.go).
const (
	rkBit = 1 << 8 // an RK operand with this bit is a constant index
)

func field(t reflect.Type, name string, want func(reflect.Type) bool) (uintptr, reflect.Type, bool) {
	if t.Kind() != reflect.Struct {
		return 0, nil, false
	}
	f, ok := t.FieldByName(name)
	if !ok || len(f.Index) != 1 || !want(f.Type) {
		return 0, nil, false
	}
	return f.Offset, f.Type, true
}

// The offsets of the fields Done reads on every instruction, as constants
// so they cost no load (64-bit, gopher-lua v1.1.2); discoverProbe checks
// them against reflect and disables the probe if they differ.
const (
	offFrame = 120 // LState.currentFrame
	offFn    = 8   // callFrame.Fn
	offPc    = 24  // callFrame.Pc
)

// dangerous has a bit set for each opcode the probe inspects.
const dangerous = 1<<glua.OP_CONCAT | 1<<glua.OP_SETTABLE | 1<<glua.OP_SETLIST

func discoverProbe() bool {
	ok := discoverLayout()
	return ok && probe.lsFrame == offFrame && probe.cfFn == offFn && probe.cfPc == offPc
}

func discoverLayout() bool {
	var (
		lvSlice = reflect.TypeOf([]glua.LValue(nil))
		fnPtr   = reflect.TypeOf((*glua.LFunction)(nil))
		isInt   = func(t reflect.Type) bool { return t.Kind() == reflect.Int }
		isPtr   = func(t reflect.Type) bool { return t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct }
		is      = func(w reflect.Type) func(reflect.Type) bool { return func(t reflect.Type) bool { return t == w } }
		ok      = true
		good    bool
		ft      reflect.Type
	)
	ls := reflect.TypeOf(glua.LState{})
	probe.lsFrame, ft, good = field(ls, "currentFrame", isPtr)
	ok = ok && good
	if good {
		cf := ft.Elem()
		probe.cfFn, _, good = field(cf, "Fn", is(fnPtr))
		ok = ok && good
		probe.cfPc, _, good = field(cf, "Pc", isInt)
		ok = ok && good
		probe.cfLocalBase, _, good = field(cf, "LocalBase", isInt)
		ok = ok && good
	}
	probe.lsReg, ft, good = field(ls, "reg", isPtr)
	ok = ok && good
	if good {
		rg := ft.Elem()
		probe.regArray, _, good = field(rg, "array", is(lvSlice))
		ok = ok && good
		probe.regTop, _, good = field(rg, "top", isInt)
		ok = ok && good
	}
	tbl := reflect.TypeOf(glua.LTable{})
	probe.tblArray, _, good = field(tbl, "array", is(lvSlice))
	ok = ok && good
	probe.tblKeys, _, good = field(tbl, "keys", is(lvSlice))
	ok = ok && good
	return ok
}

// frame is a pointer to gopher-lua's current callFrame.
type frame unsafe.Pointer

// registers returns the value stack and the current frame's base in it.
func registers(L *glua.LState, cf frame) ([]glua.LValue, int, int) {
	reg := *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(L), probe.lsReg))
	arr := *(*[]glua.LValue)(unsafe.Add(reg, probe.regArray))
	top := *(*int)(unsafe.Add(reg, probe.regTop))
	base := *(*int)(unsafe.Add(unsafe.Pointer(cf), probe.cfLocalBase))
	return arr, base, top
}

// arrayLen is the length of a table's dense array part (nil slots included).
func arrayLen(t *glua.LTable) int {
	if !probeOK {
		return 0
	}
	return len(*(*[]glua.LValue)(unsafe.Add(unsafe.Pointer(t), probe.tblArray)))
}

// keySlots is how many hash keys a table remembers, deleted ones included
// (gopher-lua never forgets a key it has seen).
func keySlots(t *glua.LTable) int {
	if !probeOK {
		return 0
	}
	return len(*(*[]glua.LValue)(unsafe.Add(unsafe.Pointer(t), probe.tblKeys)))
}

// keySlice is the list of every hash key a table has ever held, in
// insertion order (read only).
func keySlice(t *glua.LTable) []glua.LValue {
	if !probeOK {
		return nil
	}
	return *(*[]glua.LValue)(unsafe.Add(unsafe.Pointer(t), probe.tblKeys))
}

func reg(arr []glua.LValue, i int) glua.LValue {
	if i < 0 || i >= len(arr) || arr[i] == nil {
		return glua.LNil
	}
	return arr[i]
}

// rk reads an RK operand: a constant or a register.
func rk(fn *glua.LFunction, arr []glua.LValue, base, x int) glua.LValue {
	if x&rkBit != 0 {
		c := x &^ rkBit
		if c < len(fn.Proto.Constants) {
			return fn.Proto.Constants[c]
		}
		return glua.LNil
	}
	return reg(arr, base+x)
}
