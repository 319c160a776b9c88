package main

import (
	"fmt"
	"math"
)

// tQuantile975 is the 0.975 quantile of Student's t distribution with df
// degrees of freedom, the factor of a two-sided 95% confidence interval of a
// mean of df+1 values: tabulated to 4 decimals up to 30, then the
// Cornish-Fisher expansion (within 1e-5 of the exact quantile from 31 on).
func tQuantile975(df int) float64 {
	table := [...]float64{12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
		2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
		2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423}
	if df < 1 {
		return math.NaN()
	}
	if df <= len(table) {
		return table[df-1]
	}
	z, n := 1.959963984540054, float64(df)
	z3, z5, z7 := z*z*z, math.Pow(z, 5), math.Pow(z, 7)
	return z + (z3+z)/(4*n) + (5*z5+16*z3+3*z)/(96*n*n) + (3*z7+19*z5+17*z3-15*z)/(384*n*n*n)
}

// confidence95 formats the two-sided 95% confidence interval of the mean of
// v (Student's t with len(v)-1 degrees of freedom), e.g. "-0.0313 to
// +0.0446"; empty for fewer than two values.
func confidence95(v []float64, prec int) string {
	if len(v) < 2 {
		return ""
	}
	mean, sd := meanSD(v)
	half := tQuantile975(len(v)-1) * sd / math.Sqrt(float64(len(v)))
	return fmt.Sprintf("%+.*f to %+.*f", prec, mean-half, prec, mean+half)
}

// meanSD returns the mean of v and its sample standard deviation (n-1 in
// the denominator; 0 for one value).
func meanSD(v []float64) (mean, sd float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, 0
	}
	ss := 0.0
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(v)-1))
}
