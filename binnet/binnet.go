// Package binnet trains binary-weight neural networks by iterative layer
// binarization, the method of "Iterative Training: Finding Binary Weight Deep
// Neural Networks with Layer Binarization" (Lan, 2021, arXiv 2111.07046).
//
// The library is split into small packages, each with one job:
//
//   - quant: quantizers (binarize ops with straight-through gradients).
//   - layers: binary Dense and Conv2D layers with latent float weights, and a
//     batch norm whose gradient flows through the batch statistics.
//   - schedule: which layers are binary (or frozen) at each epoch.
//   - models: network builders and the paper's presets.
//   - training: the training loop, checkpoints, histories and results.
//   - sensitivity: per-layer sensitivity pre-training and the guided orders.
//   - ops: graph operations the pure-Go backend lacks or runs slowly
//     (im2col and Winograd convolutions, pooling, batch norm, custom
//     gradients).
//   - summary: a Larq-style model summary (bits, memory, MACs).
//   - backend: opens the compute backend GOMLX_BACKEND selects.
//
// Outside this tree, datasets/ loads and fetches the data, deploy/ exports
// trained networks to the .bnn format and runs them without GoMLX, and
// cmd/binnet is the command line. This root package holds the vocabulary
// shared by all of them: a layer's Mode.
package binnet

import "fmt"

// Mode is the state of one binarizable layer during training.
type Mode uint8

const (
	// Float: the forward pass uses the latent float weights.
	Float Mode = iota
	// Binary: the forward pass uses sign(w) in {-1,+1}; the latent weights
	// keep training through the straight-through estimator.
	Binary
	// Frozen: the forward pass uses sign(w) and the latent weights are no
	// longer updated.
	Frozen
)

// String returns "float", "binary" or "frozen".
func (m Mode) String() string {
	switch m {
	case Float:
		return "float"
	case Binary:
		return "binary"
	case Frozen:
		return "frozen"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// IsBinary reports whether the forward pass uses binarized weights.
func (m Mode) IsBinary() bool { return m == Binary || m == Frozen }
