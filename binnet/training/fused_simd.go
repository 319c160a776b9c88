//go:build goexperiment.simd && amd64

package training

import "simd/archsimd"

// fusedSIMD is true on CPUs with AVX-512 (checked at start-up).
var fusedSIMD = archsimd.X86.AVX512()

// adamUpdate is adamScalar 16 elements at a time with AVX-512: the same
// float32 operations in the same order (IEEE multiplication, division and
// square root are exact to the rounding, so the bits are the same).
func adamUpdate(w, g, m, s, b []float32, a adamStep) {
	i := 0
	if fusedSIMD {
		b1, c1 := archsimd.BroadcastFloat32x16(a.beta1), archsimd.BroadcastFloat32x16(a.oneMinusBeta1)
		b2, c2 := archsimd.BroadcastFloat32x16(a.beta2), archsimd.BroadcastFloat32x16(a.oneMinusBeta2)
		eps, decay := archsimd.BroadcastFloat32x16(a.eps), archsimd.BroadcastFloat32x16(a.decay)
		step, corr2 := archsimd.BroadcastFloat32x16(a.stepSize), archsimd.BroadcastFloat32x16(a.sqrtCorr2)
		lo, hi := archsimd.BroadcastFloat32x16(-1), archsimd.BroadcastFloat32x16(1)
		zero := archsimd.BroadcastFloat32x16(0)
		for ; i+16 <= len(w); i += 16 {
			wi := archsimd.LoadFloat32x16(w[i:])
			gi := archsimd.LoadFloat32x16(g[i:])
			if a.decay != 0 {
				gi = gi.Add(wi.Mul(decay))
			}
			mi := archsimd.LoadFloat32x16(m[i:]).Mul(b1).Add(gi.Mul(c1))
			si := archsimd.LoadFloat32x16(s[i:]).Mul(b2).Add(gi.Mul(gi).Mul(c2))
			denom := si.Sqrt().Div(corr2).Add(eps)
			wi = wi.Sub(step.Mul(mi.Div(denom)))
			if a.clip {
				wi = wi.Max(lo).Min(hi)
			}
			mi.Store(m[i:])
			si.Store(s[i:])
			wi.Store(w[i:])
			if b != nil {
				lo.IfElse(wi.Less(zero), hi).Store(b[i:])
			}
		}
	}
	if b != nil {
		b = b[i:]
	}
	adamScalar(w[i:], g[i:], m[i:], s[i:], b, a)
}

// signInto is signScalar 16 elements at a time with AVX-512.
func signInto(b, w []float32) {
	i := 0
	if fusedSIMD {
		zero, plus, minus := archsimd.BroadcastFloat32x16(0), archsimd.BroadcastFloat32x16(1), archsimd.BroadcastFloat32x16(-1)
		for ; i+16 <= len(w); i += 16 {
			minus.IfElse(archsimd.LoadFloat32x16(w[i:]).Less(zero), plus).Store(b[i:])
		}
	}
	signScalar(b[i:], w[i:])
}
