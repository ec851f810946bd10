package geo

import (
	"math"
	"testing"
)

func TestDistance(t *testing.T) {
	// One degree of arc on the sphere, used by several cases below.
	deg := EarthRadiusM * math.Pi / 180

	tests := []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		want                   float64 // metres
		tol                    float64 // metres
	}{
		{"same point", 45.2733, 13.7205, 45.2733, 13.7205, 0, 0},
		{"one degree of latitude", 0, 0, 1, 0, deg, 1e-6},
		{"one degree of longitude on the equator", 0, 0, 0, 1, deg, 1e-6},
		// The great circle is slightly shorter than the parallel (deg/2).
		{"one degree of longitude at 60N", 60, 0, 60, 1, 55_597.011, 0.01},
		{"pole to pole", 90, 0, -90, 0, math.Pi * EarthRadiusM, 1e-6},
		{"antipodes on the equator", 0, 0, 0, 180, math.Pi * EarthRadiusM, 1e-6},
		{"across the antimeridian", 0, 179.5, 0, -179.5, deg, 1e-6},
		// Reference values computed independently (Python, same formula and
		// radius); published city distances agree to within the sphere's 0.5%.
		{"Paris to London", 48.8566, 2.3522, 51.5074, -0.1278, 343_556.535, 0.01},
		{"Honolulu to Hilo", 21.304547, -157.8556764, 19.707243, -155.081635, 339_128.429, 0.01},
		{"a few metres (walk waypoint to track)", 45.2733160261, 13.7205934525, 45.273332, 13.720647, 4.55, 0.01},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Distance(tt.lat1, tt.lon1, tt.lat2, tt.lon2)
			if math.Abs(got-tt.want) > tt.tol {
				t.Errorf("Distance(%v, %v, %v, %v) = %.3f m, want %.3f ± %v m",
					tt.lat1, tt.lon1, tt.lat2, tt.lon2, got, tt.want, tt.tol)
			}
			// Distance is symmetric.
			if back := Distance(tt.lat2, tt.lon2, tt.lat1, tt.lon1); math.Abs(back-got) > 1e-6 {
				t.Errorf("not symmetric: %v one way, %v back", got, back)
			}
		})
	}
}

var sink float64

func BenchmarkDistance(b *testing.B) {
	for b.Loop() {
		sink = Distance(45.2733160261, 13.7205934525, 45.2767285945, 13.7233614922)
	}
}
