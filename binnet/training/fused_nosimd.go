//go:build !(goexperiment.simd && amd64)

package training

// adamUpdate is adamScalar where Go's SIMD package is not built in.
func adamUpdate(w, g, m, s, b []float32, a adamStep) { adamScalar(w, g, m, s, b, a) }

// signInto is signScalar where Go's SIMD package is not built in.
func signInto(b, w []float32) { signScalar(b, w) }
