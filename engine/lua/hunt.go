package lua

import (
	"fmt"
	"math"
	"slices"

	glua "github.com/yuin/gopher-lua"

	"github.com/veltrix/veltrix/engine/core"
	"github.com/veltrix/veltrix/engine/geo"
)

// maxCachedHunts bounds the hunt cache of a Runtime; past it the cache starts
// over. A worker serves every hunt of its partitions, and a hunt converted
// again on each call cost a fifth of the engine's allocations with 200 hunts
// under the old bound of 64; a definition's tables take a few KB.
const maxCachedHunts = 4096

// huntKey identifies a hunt definition by identity: core hands the same
// HuntDef slice to every call of a hunt. The key holds a pointer into the
// slice, which keeps it alive, so its address cannot be reused by another
// definition while cached.
type huntKey struct {
	id  string
	ptr *byte
	n   int
}

// huntDef is a hunt definition converted to read-only Lua tables once, with
// an index of its beacons for ctx.near.
type huntDef struct {
	table   *glua.LTable  // read-only proxy given as ctx.hunt
	beacons []glua.LValue // read-only beacon tables, in definition order
	byLat   []beaconPos   // beacons with coordinates, sorted by latitude
}

type beaconPos struct {
	lat, lon float64
	cosLat   float64
	idx      int
}

// huntFor returns the cached definition of c's hunt, converting it on first use.
func (r *Runtime) huntFor(c *core.Call) (*huntDef, error) {
	var key huntKey
	if len(c.HuntDef) > 0 {
		key = huntKey{id: c.Action.Hunt, ptr: &c.HuntDef[0], n: len(c.HuntDef)}
	}
	if h, ok := r.hunts[key]; ok {
		return h, nil
	}
	h, err := r.loadHunt(c.HuntDef)
	if err != nil {
		return nil, fmt.Errorf("lua: hunt %s: decode definition: %w", c.Action.Hunt, err)
	}
	if len(r.hunts) >= maxCachedHunts {
		clear(r.hunts)
	}
	r.hunts[key] = h
	return h, nil
}

func (r *Runtime) loadHunt(def []byte) (*huntDef, error) {
	var v glua.LValue = r.L.NewTable()
	if len(def) > 0 {
		var err error
		if v, err = r.dec.decode(def); err != nil {
			return nil, err
		}
	}
	real, ok := v.(*glua.LTable)
	if !ok {
		return nil, fmt.Errorf("definition is a %s, not an object", v.Type())
	}
	f := newFreezer(r)
	proxy, err := f.table(real)
	if err != nil {
		return nil, err
	}
	h := &huntDef{table: proxy}
	bs, ok := real.RawGetString("beacons").(*glua.LTable)
	if !ok {
		return h, nil
	}
	bs = r.realTable(bs)
	for i := 1; i <= bs.Len(); i++ {
		b := bs.RawGetInt(i)
		h.beacons = append(h.beacons, b)
		bt, ok := b.(*glua.LTable)
		if !ok {
			continue
		}
		bt = r.realTable(bt)
		lat, ok1 := bt.RawGetString("lat").(glua.LNumber)
		lon, ok2 := bt.RawGetString("lon").(glua.LNumber)
		if ok1 && ok2 {
			h.byLat = append(h.byLat, beaconPos{lat: float64(lat), lon: float64(lon), cosLat: math.Cos(float64(lat) * math.Pi / 180), idx: i - 1})
		}
	}
	slices.SortFunc(h.byLat, func(a, b beaconPos) int { return cmpFloat(a.lat, b.lat) })
	return h, nil
}

// near appends to buf the indexes of the beacons within radius metres of
// (lat, lon), ascending, and returns how many beacons it examined. A
// great-circle distance is never less than EarthRadius*|dLat| (in radians),
// so only a latitude band needs a look; in it, the haversine term of the
// longitude difference (cos φ1 cos φ2 sin²(Δλ/2)) bounds the distance from
// below too, and sin x ≥ x - x³/6 makes that bound trigonometry-free. What
// passes both gets the exact test, which uses the same function as
// ctx.distance, so the answer is the same as testing every beacon.
func (h *huntDef) near(lat, lon, radius float64, buf []int) ([]int, int) {
	if h == nil || radius < 0 || math.IsNaN(radius) {
		return buf, 0
	}
	const deg = math.Pi / 180
	band := radius/geo.EarthRadiusM*180/math.Pi*(1+1e-9) + 1e-9
	lo := lat - band
	// hmax: the haversine value of the radius, with a margin for rounding;
	// meaningless for a radius beyond half the globe.
	useLon := radius < 0.9*math.Pi*geo.EarthRadiusM
	s := math.Sin(radius / (2 * geo.EarthRadiusM))
	hmax := s*s*(1+1e-9) + 1e-18
	cosLat := math.Cos(lat * deg)
	i, _ := slices.BinarySearchFunc(h.byLat, lo, func(b beaconPos, t float64) int { return cmpFloat(b.lat, t) })
	examined := 0
	for ; i < len(h.byLat) && h.byLat[i].lat <= lat+band; i++ {
		b := &h.byLat[i]
		examined++
		if useLon {
			dl := math.Abs(b.lon - lon)
			if dl > 180 { // the other way round the globe
				if dl = math.Mod(dl, 360); dl > 180 {
					dl = 360 - dl
				}
			}
			x := dl * deg / 2     // in [0, π/2]
			lb := x * (1 - x*x/6) // <= sin x
			if cosLat*b.cosLat*lb*lb > hmax {
				continue
			}
		}
		if geo.Distance(lat, lon, b.lat, b.lon) <= radius {
			buf = append(buf, b.idx)
		}
	}
	slices.Sort(buf)
	return buf, examined
}
