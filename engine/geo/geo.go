// Package geo holds the small amount of spherical geometry the engine needs:
// great-circle distances between WGS84 coordinates.
package geo

import "math"

// EarthRadiusM is the mean Earth radius in metres (IUGG R1). A sphere is
// accurate to about 0.5% against the ellipsoid, far below GPS noise at the
// tens-of-metres scale of a discovery radius.
const EarthRadiusM = 6371008.8

const degToRad = math.Pi / 180

// Distance returns the great-circle distance in metres between two points
// given in decimal degrees, using the haversine formula, which (unlike the
// spherical law of cosines) stays accurate for the short, metre-scale
// distances between consecutive GPS fixes.
func Distance(lat1, lon1, lat2, lon2 float64) float64 {
	phi1 := lat1 * degToRad
	phi2 := lat2 * degToRad
	dPhi := (lat2 - lat1) * degToRad
	dLambda := (lon2 - lon1) * degToRad

	sinPhi := math.Sin(dPhi / 2)
	sinLambda := math.Sin(dLambda / 2)
	h := sinPhi*sinPhi + math.Cos(phi1)*math.Cos(phi2)*sinLambda*sinLambda
	// Rounding can push h a hair above 1 for antipodal points; Asin would
	// then return NaN.
	h = math.Min(h, 1)
	return 2 * EarthRadiusM * math.Asin(math.Sqrt(h))
}
