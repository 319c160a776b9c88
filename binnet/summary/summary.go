// Package summary describes a binnet network layer by layer, in the spirit of
// Larq's model summary: for each layer its mode (float, binary or frozen),
// parameters, bits, memory as float32 and with binary weights packed to one
// bit, the multiply-accumulates of float layers and the additions that
// replace them in binary layers; then totals and the compression ratio.
package summary

import (
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/layers"
	"github.com/binnet/binnet/binnet/models"
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// Row describes one layer (one variable scope) of a network.
type Row struct {
	Name  string // the layer's scope under /model, e.g. "dense1", "bn1", "layer2_block0/conv1"
	Scope string // e.g. "/model/dense1"
	// Layer is the 1-based number of a binarizable layer, the number that
	// orders (-order 1,3,2), sensitivity results and schedules use; 0 for
	// the other layers (batch norm).
	Layer   int
	Kind    string // "dense", "conv2d", "batchnorm" or "layer"
	Mode    string // "float", "binary" or "frozen"; always "float" for non-binarizable layers
	Outputs int    // output units or channels

	Params       int64 // every stored value: weights, biases, batch norm's gamma, beta and running statistics
	Trainable    int64 // of Params, those the optimizer updates
	BinaryParams int64 // weights stored as 1 bit (binary and frozen layers)
	FloatParams  int64 // values stored as float32
	Bits         int64 // BinaryParams + 32*FloatParams
	Float32Bytes int64 // memory if every value were float32: 4*Params
	PackedBytes  int64 // memory with binary weights packed: Bits/8, rounded up

	MACs       int64 // 32-bit multiply-accumulates per example (float layers)
	BinaryMACs int64 // per example, the multiply-accumulates of binary layers, each replaced by one addition or subtraction
}

// Summary is the table of a network.
type Summary struct {
	Network string // e.g. "mlp-784-300-100-10"
	Rows    []Row  // one per variable scope under /model (layer or batch norm), in build order
	Total   Row    // sums over Rows
	// Ratio is Total.Float32Bytes / Total.PackedBytes.
	Ratio float64
	// DeployedBytes is what the layers take in a .bnn file: sign bits (rows
	// padded to 64-bit words) or float32 weights, plus a float32 scale and
	// offset per output (batch norm, bias and quantizer scale folded in);
	// headers (64 bytes per layer) excluded.
	DeployedBytes int64
}

// Of builds net's evaluation graph once (compiled for one example, on the
// backend GOMLX_BACKEND selects, nothing executed) to find its layers and
// variables, and summarizes it with the given mode for each binarizable
// layer. modes nil means every binarizable layer binary. A network that
// fails models.Validate is refused before anything is built.
func Of(net models.Network, modes []binnet.Mode) (*Summary, error) {
	b, err := backend.Shared()
	if err != nil {
		return nil, err
	}
	return OfWithBackend(b, net, modes)
}

// OfWithBackend is Of on a given backend.
func OfWithBackend(b compute.Backend, net models.Network, modes []binnet.Mode) (s *Summary, err error) {
	if err := models.Validate(net); err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	if modes == nil {
		modes = slices.Repeat([]binnet.Mode{binnet.Binary}, net.NumBinarizable())
	}
	if len(modes) != net.NumBinarizable() {
		return nil, fmt.Errorf("summary: %d modes for the %d binarizable layers of %s", len(modes), net.NumBinarizable(), net.Name())
	}
	store := model.NewStore()
	var infos []layers.Info
	exec, err := model.NewExec(b, store, func(scope *model.Scope, x *Node) *Node {
		ctl := layers.NewControl(false).WithModes(modes...)
		y := net.Logits(scope.In("model"), ctl, x)
		infos = ctl.Layers()
		return y
	})
	if err != nil {
		return nil, err
	}
	defer exec.Finalize()
	dims := append([]int{1}, net.InputShape()...)
	if _, err := exec.Compile(shapes.Make(dtypes.Float32, dims...)); err != nil {
		return nil, fmt.Errorf("summary: building %s: %w", net.Name(), err)
	}
	byScope := map[string]layers.Info{}
	for _, in := range infos {
		byScope[in.Scope] = in
	}
	s = &Summary{Network: net.Name()}
	index := map[string]int{}
	for v := range store.IterVariables() {
		scope := v.Scope()
		if !strings.HasPrefix(scope, "/model") {
			continue
		}
		i, ok := index[scope]
		if !ok {
			i = len(s.Rows)
			index[scope] = i
			s.Rows = append(s.Rows, Row{Name: strings.TrimPrefix(scope, "/model/"), Scope: scope, Kind: "layer", Mode: "float"})
		}
		r := &s.Rows[i]
		n := int64(v.Shape().Size())
		r.Params += n
		if v.Trainable {
			r.Trainable += n
		}
		info, binarizable := byScope[scope]
		switch {
		case binarizable && v == info.Weights:
			r.Kind, r.Outputs, r.Layer = string(info.Kind), info.Outputs, info.Index+1
			r.Mode = modes[info.Index].String()
			if modes[info.Index].IsBinary() {
				r.BinaryParams += n
				r.BinaryMACs = info.MACs()
			} else {
				r.FloatParams += n
				r.MACs = info.MACs()
			}
			words := int64((info.FanIn + 63) / 64)
			if modes[info.Index].IsBinary() {
				s.DeployedBytes += 8*words*int64(info.Outputs) + 8*int64(info.Outputs)
			} else {
				s.DeployedBytes += 4*n + 8*int64(info.Outputs)
			}
		default:
			r.FloatParams += n
			if path.Base(v.Path()) == "running_mean" {
				r.Kind = "batchnorm"
				r.Outputs = int(n)
			}
		}
	}
	for i := range s.Rows {
		r := &s.Rows[i]
		r.Bits = r.BinaryParams + 32*r.FloatParams
		r.Float32Bytes = 4 * r.Params
		r.PackedBytes = (r.Bits + 7) / 8
		t := &s.Total
		t.Params += r.Params
		t.Trainable += r.Trainable
		t.BinaryParams += r.BinaryParams
		t.FloatParams += r.FloatParams
		t.Bits += r.Bits
		t.Float32Bytes += r.Float32Bytes
		t.PackedBytes += r.PackedBytes
		t.MACs += r.MACs
		t.BinaryMACs += r.BinaryMACs
	}
	s.Total.Name = "total"
	if s.Total.PackedBytes > 0 {
		s.Ratio = float64(s.Total.Float32Bytes) / float64(s.Total.PackedBytes)
	}
	return s, nil
}

// group formats n with thousands separators.
func group(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func kib(n int64) string { return fmt.Sprintf("%.2f", float64(n)/1024) }

// Format writes the summary as an aligned text table with a footer.
func (s *Summary) Format(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	// tabwriter aligns every column right; pad the text columns to left-align them.
	wn, wk, wm := len("layer"), len("kind"), len("mode")
	for _, r := range s.Rows {
		wn, wk, wm = max(wn, len(r.Name)), max(wk, len(r.Kind)), max(wm, len(r.Mode))
	}
	fmt.Fprintf(tw, "#\t%-*s\t%-*s\t%-*s\toutputs\tparams\t1-bit\t32-bit\tfloat32 KiB\tpacked KiB\t32-bit MACs\tbinary MACs (adds)\t\n", wn, "layer", wk, "kind", wm, "mode")
	line := func(r Row, kind, mode, outputs string) {
		number := ""
		if r.Layer > 0 {
			number = fmt.Sprint(r.Layer)
		}
		fmt.Fprintf(tw, "%s\t%-*s\t%-*s\t%-*s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", number, wn, r.Name, wk, kind, wm, mode, outputs, group(r.Params),
			group(r.BinaryParams), group(r.FloatParams), kib(r.Float32Bytes), kib(r.PackedBytes), group(r.MACs), group(r.BinaryMACs))
	}
	for _, r := range s.Rows {
		line(r, r.Kind, r.Mode, fmt.Sprint(r.Outputs))
	}
	line(s.Total, "", "", "")
	if err := tw.Flush(); err != nil {
		return err
	}
	t := s.Total
	_, err := fmt.Fprintf(w, "\n%s: %s parameters (%s trainable, %s batch-norm running statistics), %s of them 1-bit\n"+
		"memory: %s KiB as float32, %s KiB with binary weights packed: compression ratio %.2fx\n"+
		"per example: %s multiply-accumulates, %s of them (%.1f%%) replaced by additions in binary layers\n"+
		"deployed (.bnn layer data, batch norm folded into a scale and offset per output): %s KiB\n",
		s.Network, group(t.Params), group(t.Trainable), group(t.Params-t.Trainable), group(t.BinaryParams),
		kib(t.Float32Bytes), kib(t.PackedBytes), s.Ratio,
		group(t.MACs+t.BinaryMACs), group(t.BinaryMACs), 100*float64(t.BinaryMACs)/float64(max(t.MACs+t.BinaryMACs, 1)),
		kib(s.DeployedBytes))
	return err
}

// String returns the formatted table.
func (s *Summary) String() string {
	var b strings.Builder
	s.Format(&b)
	return b.String()
}
