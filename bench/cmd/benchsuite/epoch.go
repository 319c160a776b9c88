package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/schedule"
	"github.com/binnet/binnet/binnet/sensitivity"
	"github.com/binnet/binnet/binnet/training"
	"github.com/binnet/binnet/datasets"
	"github.com/gomlx/compute"
)

// End-to-end epoch and sensitivity on the real MNIST.

func loadMNIST(dir string) (training.Data, float64, error) {
	t0 := time.Now()
	train, test, err := datasets.Load("mnist", dir)
	if err != nil {
		return training.Data{}, 0, err
	}
	tr, val, err := train.HoldOutLast(5000)
	if err != nil {
		return training.Data{}, 0, err
	}
	if *flagQuick {
		tr = tr.Slice(0, 5000)
	}
	var d training.Data
	for _, p := range []struct {
		dst *training.Source
		s   *datasets.Set
	}{{&d.Train, tr}, {&d.Val, val}, {&d.Test, test}} {
		ex, err := training.FromSet(p.s, datasets.MNISTMean, datasets.MNISTStd, 784)
		if err != nil {
			return d, 0, err
		}
		*p.dst = ex
	}
	return d, time.Since(t0).Seconds(), nil
}

func preset(name string) (models.MLP, error) {
	p, err := models.Lookup(name)
	if err != nil {
		return models.MLP{}, err
	}
	return p.Network.(models.MLP), nil
}

func epochWorkload(b compute.Backend, name string, data training.Data, load float64, dataDir string, peerThreads int) (*EpochResult, error) {
	net, err := preset(name)
	if err != nil {
		return nil, err
	}
	const batch = 100
	steps := data.Train.Len() / batch
	r := &EpochResult{Model: name, Steps: steps, Batch: batch, LoadSeconds: load, PeerThreads: peerThreads, PeerExamples: 55000}
	// binnet's part runs on the threads "binnet train" picks.
	if r.Threads, err = stepThreads(net, batch); err != nil {
		return nil, err
	}
	b, done, err := backendFor(b, r.Threads)
	if err != nil {
		return nil, err
	}
	defer done()
	withThreads := func(f func() error) error {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(r.Threads))
		return f()
	}
	sched, err := schedule.New(schedule.Config{NumLayers: 3, Kind: schedule.KindBinary, TotalEpochs: 1})
	if err != nil {
		return nil, err
	}
	// Real batches for the steps-only measurement: every batch of a shuffle,
	// as many distinct batches as the epoch reads (a few batches reused would
	// stay in the CPU caches, which the epoch's batches do not).
	rng := rand.New(rand.NewPCG(3, 4))
	perm := rng.Perm(data.Train.Len())
	train := data.Train.(*training.Examples)
	var xs [][]float32
	var ys [][]int32
	for bi := 0; bi < steps; bi++ {
		x := make([]float32, 0, batch*784)
		y := make([]int32, 0, batch)
		for _, i := range perm[bi*batch : (bi+1)*batch] {
			x = append(x, train.X[i*784:(i+1)*784]...)
			y = append(y, int32(train.Y[i]))
		}
		xs, ys = append(xs, x), append(ys, y)
	}
	modes := []binnet.Mode{binnet.Binary, binnet.Binary, binnet.Binary}
	// One unmeasured epoch first: the process's first training.Run of a
	// network is slower (fresh memory for every buffer), which would
	// otherwise count as data-loading overhead in the first round.
	base := training.Config{Model: name, Dataset: "mnist", Network: net, Schedule: sched, Order: "binary",
		Optimizer: training.Optimizer{Name: "adam", LearningRate: 0.1}, BatchSize: batch, Seed: 99, Backend: b, SkipTest: true}
	if err := withThreads(func() error { _, err := training.Run(context.Background(), base, data); return err }); err != nil {
		return nil, err
	}
	for round := 0; round < *flagEpochRnds; round++ {
		var epochSec, stepsOnly float64
		err := withThreads(func() error {
			// A: training.Run, one all-binary epoch with validation (no test).
			cfg := base
			cfg.Seed, cfg.OnEpoch = int64(round+1), func(rec training.EpochRecord) { epochSec = rec.Seconds }
			runtime.GC()
			t0 := time.Now()
			if _, err := training.Run(context.Background(), cfg, data); err != nil {
				return err
			}
			r.RunSeconds = append(r.RunSeconds, time.Since(t0).Seconds())
			r.EpochSeconds = append(r.EpochSeconds, epochSec)

			// The same number of bare steps (and the validation pass alone) on a fresh engine.
			s, err := newStepper(b, net, batch, true, xs, ys)
			if err != nil {
				return err
			}
			runtime.GC()
			t0 = time.Now()
			for range steps {
				if err := s.step(); err != nil {
					return err
				}
			}
			stepsOnly = time.Since(t0).Seconds()
			r.StepsOnly = append(r.StepsOnly, stepsOnly)
			t0 = time.Now()
			if _, _, err := s.e.Evaluate(data.Val, modes, 1000); err != nil { // compiles
				return err
			}
			firstVal := time.Since(t0).Seconds()
			t0 = time.Now()
			if _, _, err := s.e.Evaluate(data.Val, modes, 1000); err != nil {
				return err
			}
			val := time.Since(t0).Seconds()
			r.ValSeconds = append(r.ValSeconds, val)
			// Compilation of both graphs: first call minus a warm one.
			r.CompileSeconds = append(r.CompileSeconds, math.Max(0, s.compil-stepsOnly/float64(steps))+math.Max(0, firstVal-val))
			return nil
		})
		if err != nil {
			return nil, err
		}

		// B: PyTorch's own epoch (train_epoch: batch gathering, loss.item()).
		h, err := peerRun("--model", strings.TrimPrefix(name, "mlp-"), "--order", "binary", "--epochs", "1", "--batch", fmt.Sprint(batch),
			"--threads", fmt.Sprint(peerThreads), "--seed", fmt.Sprint(round+1), "--data-dir", dataDir)
		if err != nil {
			return nil, err
		}
		r.PeerEpoch = append(r.PeerEpoch, h[0]["train_seconds"].(float64))
		r.PeerEpochVal = append(r.PeerEpochVal, h[0]["seconds"].(float64))
		logf("epoch %s round %d: binnet Run %.1fs (epoch %.1fs, val %.2fs, steps-only %.1fs), pytorch train %.1fs",
			name, round+1, r.RunSeconds[round], epochSec, r.ValSeconds[round], stepsOnly, r.PeerEpoch[round])
	}
	return r, nil
}

// peerRun runs the PyTorch peer's training (mlp_mnist.py) with args and
// its results written to a temporary file, and returns their per-epoch
// history.
func peerRun(args ...string) ([]map[string]any, error) {
	tmp, err := os.CreateTemp("", "benchsuite-*.json")
	if err != nil {
		return nil, err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := execPeer(append(args, "--out", tmp.Name())...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%v: %w\n%s", cmd.Args, err, tail(string(out)))
	}
	return peerHistory(tmp.Name())
}

func peerHistory(path string) ([]map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var res struct {
		History []map[string]any `json:"history"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, err
	}
	if len(res.History) == 0 {
		return nil, errors.New(path + ": no history")
	}
	return res.History, nil
}

func sensWorkload(b compute.Backend, data training.Data, dataDir string, peerThreads int) (*SensResult, error) {
	const name = "mlp-784-784"
	net, err := preset(name)
	if err != nil {
		return nil, err
	}
	r := &SensResult{Model: name, EpochsPerLayer: 1, TrainExamples: data.Train.Len(), PeerThreads: peerThreads}
	for round := 0; round < *flagSensRounds; round++ {
		dir, err := os.MkdirTemp("", "benchsuite-sens-")
		if err != nil {
			return nil, err
		}
		var sum float64
		cfg := sensitivity.Config{Base: training.Config{Model: name, Dataset: "mnist", Network: net,
			Optimizer: training.Optimizer{Name: "adam", LearningRate: 0.1}, BatchSize: 100, Seed: 1, Backend: b},
			Epochs: 1, OutDir: dir, OnLayer: func(l sensitivity.LayerResult, _ bool) { sum += l.Seconds }}
		runtime.GC()
		t0 := time.Now()
		_, err = sensitivity.Run(context.Background(), cfg, data)
		os.RemoveAll(dir)
		if err != nil {
			return nil, err
		}
		r.BinnetWall = append(r.BinnetWall, time.Since(t0).Seconds())
		r.Binnet = append(r.Binnet, sum)

		// PyTorch: layer k alone binary for one epoch = --order k,... --epochs 1 --epochs-per-layer 1.
		var psum float64
		t0 = time.Now()
		for _, order := range []string{"1,2,3", "2,1,3", "3,1,2"} {
			h, err := peerRun("--model", "784-784", "--order", order, "--epochs", "1", "--epochs-per-layer", "1",
				"--threads", fmt.Sprint(peerThreads), "--data-dir", dataDir)
			if err != nil {
				return nil, err
			}
			psum += h[0]["seconds"].(float64)
		}
		r.PeerWall = append(r.PeerWall, time.Since(t0).Seconds())
		r.Peer = append(r.Peer, psum)
		logf("sensitivity round %d: binnet %.1fs (wall %.1fs), pytorch %.1fs (wall %.1fs)", round+1, sum, r.BinnetWall[round], psum, r.PeerWall[round])
	}
	return r, nil
}
