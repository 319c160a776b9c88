package ops

import (
	"os"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/activation"
)

// ReLU is max(x, 0). On the pure-Go backend its gradient is written by hand
// to read x only (v where x > 0, else 0): GoMLX's reads both x and the
// output, so that the output stays in use until the backward pass, and the
// next layer cannot take it over (an identity on it, such as the padding of
// a convolution's input with a hand-written gradient, would copy it).
// Elsewhere, or with BINNET_RELU=gomlx (for comparisons), it is GoMLX's
// activation.Relu.
func ReLU(x *Node) *Node {
	if !goBackend(x.Graph()) || os.Getenv("BINNET_RELU") == "gomlx" {
		return activation.Relu(x)
	}
	return withGradient([]*Node{x},
		func(in []*Node) *Node { return activation.Relu(in[0]) },
		func(in []*Node, v *Node) []*Node {
			// The backend's fused ReLU derivative decides from its "output"
			// argument whether it is positive: x is positive exactly
			// where max(x, 0) is.
			return []*Node{BackendFusedActivationVJP(in[0], nil, v, compute.ActivationConfig{Type: compute.ActivationRelu})}
		}, false)
}
