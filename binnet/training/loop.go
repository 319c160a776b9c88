package training

import (
	"errors"
	"fmt"
	"slices"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/layers"
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
)

// goBackendLoops reports whether the pure-Go backend can compile the While
// loop of LoopSteps. gomlx/compute v0.1.14 compiles a closure when it
// returns, before the backend's optimization passes, whose implicit-broadcast
// fusion then rewrites the closure's nodes under the compiled schedule: a loop
// body holding a broadcast add (every training step does) fails with "input 1
// for node Add not computed yet". The tests turn those passes off to check the
// loop's numbers there.
var goBackendLoops = false

// errGoBackendLoop is what LoopSteps returns on the pure-Go backend (see
// checkLoop).
var errGoBackendLoop = errors.New("training: the steps' While loop (LoopSteps, -steps-loop) does not compile on the pure-Go backend " +
	"(gomlx/compute v0.1.14 compiles a loop body before its optimization passes rewrite it); use XLA, or unrolled steps")

// checkLoop returns errGoBackendLoop when loop is set and b is the pure-Go
// backend, which cannot compile the loop (unless the tests allow it).
func checkLoop(loop bool, b compute.Backend) error {
	if loop && OnHost(b) && !goBackendLoops {
		return errGoBackendLoop
	}
	return nil
}

// loopState is the number of loop-state values that come before the
// variables: the step counter, the batches, their labels and the learning rate.
const loopState = 4

// buildLoop builds the graph of LoopSteps: the training steps on the batches
// of xs (shaped [steps, batch, ...]) and labels ([steps, batch]) as a While
// loop whose body is one step, so that the graph holds one step whatever the
// number of steps. The loop's state is the step counter, the batches, their
// labels, the learning rate and the value of every variable the step reads,
// all passed in rather than captured from the enclosing function (XLA's
// closures cannot read their parent's values in go-xla v0.4.13). The body
// picks its batch with a one-index Gather (the pure-Go backend has no
// DynamicSlice).
func (e *Engine) buildLoop(scope *model.Scope, xs, labels, lr *Node, modes []binnet.Mode) []*Node {
	g := xs.Graph()
	steps := xs.Shape().Dimensions[0]
	vars, err := e.stepVariables(shapes.Make(xs.DType(), xs.Shape().Dimensions[1:]...),
		shapes.Make(labels.DType(), labels.Shape().Dimensions[1:]...), lr.Shape(), modes)
	if err != nil {
		panic(err)
	}
	// Nothing in this function may call Scalar before the closures are
	// built: GoMLX caches scalar constants per graph, and a body reading
	// this function's constant would capture it. The graph is a training
	// one before the variables' values are read, or a backend that prefers
	// constants for variables (the pure-Go one) would bake them in.
	layers.LiveVariables(scope, g)
	state := []*Node{Const(g, int32(0)), xs, labels, lr}
	for _, v := range vars {
		state = append(state, v.NodeValue(g))
	}
	parameters := func(g *Graph) []*Node {
		p := make([]*Node, len(state))
		for i, s := range state {
			p[i] = Parameter(g, fmt.Sprintf("state_%d", i), s.Shape())
		}
		return p
	}
	cond := NewClosure(g, func(g *Graph) []*Node {
		p := parameters(g)
		return []*Node{LessThan(p[0], Const(g, int32(steps)))}
	})
	body := NewClosure(g, func(g *Graph) []*Node {
		p := parameters(g)
		for i, v := range vars {
			v.SetNodeValue(p[loopState+i])
		}
		k := Reshape(p[0], 1)
		e.buildTrain(e.Store.Scope(scope.Scope()), Gather(p[1], k), Gather(p[2], k), p[3], modes, nil, nil, nil)
		out := []*Node{AddScalar(p[0], 1), p[1], p[2], p[3]}
		for _, v := range vars {
			out = append(out, v.NodeValue(g))
		}
		return out
	})
	for v := range e.Store.IterVariables() {
		if v.InUseByGraph(g) && !slices.Contains(vars, v) {
			panic(fmt.Errorf("training: the steps' loop reads variable %s, which a single step does not", v.Path()))
		}
	}
	final := While(cond, body, state...)
	for i, v := range vars {
		v.SetNodeValue(final[loopState+i])
	}
	return final[:1]
}

// stepVariables returns the variables one training step with the given
// modes reads, found by building the step, without compiling it, in a
// scratch graph. Variables the step creates are created in the store (and
// initialized before the first execution, as any).
func (e *Engine) stepVariables(x, labels, lr shapes.Shape, modes []binnet.Mode) (vars []*model.Variable, err error) {
	g := NewGraph(e.Backend, "binnet_step_variables")
	defer g.Finalize()
	model.SetStore(g, e.Store)
	err = exceptions.TryCatch[error](func() {
		e.buildTrain(e.Store.RootScope(), Parameter(g, "x", x), Parameter(g, "labels", labels),
			Parameter(g, "lr", lr), modes, nil, nil, nil)
		for v := range e.Store.IterVariables() {
			if v.InUseByGraph(g) {
				vars = append(vars, v)
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("training: finding the variables of a step: %w", err)
	}
	return vars, nil
}
