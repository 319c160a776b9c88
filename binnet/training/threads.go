package training

import (
	"runtime"

	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/summary"
)

// StepMACs estimates the multiply-accumulates of one training step of net
// at batch: three times the forward products of its dense and convolutional
// layers (the forward pass, then the gradients of the inputs and of the
// weights). It builds the network's graph on a pure-Go backend of its own,
// closed before it returns, so that the shared backend stays unopened.
func StepMACs(net models.Network, batch int) (int64, error) {
	b, err := backend.NewGo()
	if err != nil {
		return 0, err
	}
	defer b.Finalize()
	s, err := summary.OfWithBackend(b, net, nil)
	if err != nil {
		return 0, err
	}
	return 3 * int64(batch) * (s.Total.MACs + s.Total.BinaryMACs), nil
}

// UseStepThreads sets this process's threads (GOMAXPROCS) for training net
// at batch as the binnet command does: one thread for a small step on the
// pure-Go backend (backend.StepThreads), which runs it faster there, and
// the current threads otherwise. It changes nothing when the GOMAXPROCS
// environment variable is set (the user's choice) or once the shared backend
// is open (its graph executors were sized to the threads then): call it
// before anything else of binnet's. It returns the threads in use.
func UseStepThreads(net models.Network, batch int) (int, error) {
	if !backend.PicksThreads() || backend.Opened() {
		return runtime.GOMAXPROCS(0), nil
	}
	macs, err := StepMACs(net, batch)
	if err != nil {
		return 0, err
	}
	n := backend.StepThreads(macs)
	backend.UseThreads(n)
	return n, nil
}
