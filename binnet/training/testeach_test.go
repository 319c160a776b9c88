package training

import (
	"context"
	"testing"

	"github.com/binnet/binnet/binnet/schedule"
)

// TestTestEachEpoch checks that testing after every epoch changes no
// training number, that its last epoch's test equals the final test, that
// the best test is taken over the last stage only, and that a run resumed
// with the option switched on tests the epochs it runs from then on.
func TestTestEachEpoch(t *testing.T) {
	data := smallData(t)
	cfg := smallConfig(t, schedule.Forward(3), 1, 5) // stages: epoch 1 | 2 | 3-5 (all binary)

	plain, err := Run(context.Background(), cfg, data)
	if err != nil {
		t.Fatal(err)
	}
	each := cfg
	each.TestEachEpoch = true
	tested, err := Run(context.Background(), each, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(tested.History) != 5 {
		t.Fatalf("%d epochs, want 5", len(tested.History))
	}
	for i, h := range tested.History {
		p := plain.History[i]
		if h.TrainLoss != p.TrainLoss || h.ValLoss != p.ValLoss || h.ValAccuracy != p.ValAccuracy {
			t.Errorf("epoch %d trained differently with the test each epoch: %+v against %+v", i+1, h, p)
		}
		if h.TestLoss <= 0 || h.TestAccuracy <= 0.1 || h.TestAccuracy > 1 {
			t.Errorf("epoch %d: test loss %v, accuracy %v", i+1, h.TestLoss, h.TestAccuracy)
		}
		if p.TestLoss != 0 || p.TestAccuracy != 0 {
			t.Errorf("epoch %d of the plain run has a test: %+v", i+1, p)
		}
	}
	last := tested.History[4]
	if last.TestAccuracy != plain.TestAccuracy || last.TestLoss != plain.TestLoss || tested.TestAccuracy != plain.TestAccuracy {
		t.Errorf("last epoch's test %v/%v, final test %v, plain run's final test %v/%v",
			last.TestAccuracy, last.TestLoss, tested.TestAccuracy, plain.TestAccuracy, plain.TestLoss)
	}
	wantAcc, wantEpoch := 0.0, 0
	for _, h := range tested.History[2:] { // the last stage: epochs 3-5
		if h.TestAccuracy > wantAcc {
			wantAcc, wantEpoch = h.TestAccuracy, h.Epoch
		}
	}
	if tested.BestTestAccuracy != wantAcc || tested.BestTestEpoch != wantEpoch || tested.BestTestOf != 3 {
		t.Errorf("best test %v at epoch %d of %d, want %v at %d of 3", tested.BestTestAccuracy, tested.BestTestEpoch, tested.BestTestOf, wantAcc, wantEpoch)
	}
	if plain.BestTestAccuracy != 0 || plain.BestTestEpoch != 0 || plain.BestTestOf != 0 {
		t.Errorf("plain run has a best test: %v at %d of %d", plain.BestTestAccuracy, plain.BestTestEpoch, plain.BestTestOf)
	}
	// The official scripts' figure: the best of all five epochs.
	wantAcc, wantEpoch = 0.0, 0
	for _, h := range tested.History {
		if h.TestAccuracy > wantAcc {
			wantAcc, wantEpoch = h.TestAccuracy, h.Epoch
		}
	}
	if tested.BestTestAnyAccuracy != wantAcc || tested.BestTestAnyEpoch != wantEpoch || plain.BestTestAnyAccuracy != 0 {
		t.Errorf("best test of any epoch %v at %d, want %v at %d (plain run: %v)", tested.BestTestAnyAccuracy, tested.BestTestAnyEpoch,
			wantAcc, wantEpoch, plain.BestTestAnyAccuracy)
	}

	// Interrupted after epoch 3 without the option, resumed with it: epochs
	// 4 and 5 are tested, 2 of the last stage's 3, with the same numbers.
	part := cfg
	part.OutDir = t.TempDir()
	runInterrupted(t, part, data, 3)
	part.TestEachEpoch = true
	resumed, err := Run(context.Background(), part, data)
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range resumed.History {
		if w := tested.History[i]; i >= 3 && (h.TestAccuracy != w.TestAccuracy || h.TestLoss != w.TestLoss) || i < 3 && h.TestLoss != 0 {
			t.Errorf("resumed epoch %d: test %v/%v, want %v/%v from epoch 4 on", i+1, h.TestAccuracy, h.TestLoss, w.TestAccuracy, w.TestLoss)
		}
	}
	if resumed.BestTestOf != 2 {
		t.Errorf("resumed run: best test over %d epochs, want 2", resumed.BestTestOf)
	}
	if resumed.BestTestAnyAccuracy != 0 || resumed.BestTestAnyEpoch != 0 {
		t.Errorf("resumed run tested from epoch 4 has a best test of any epoch: %v at %d", resumed.BestTestAnyAccuracy, resumed.BestTestAnyEpoch)
	}
}

// TestBestTested checks the selection on a hand-made history: the last
// stage only or every epoch, untested epochs skipped, the first of equal
// maxima.
func TestBestTested(t *testing.T) {
	h := []EpochRecord{
		{Epoch: 1, Stage: 1, TestLoss: 0.1, TestAccuracy: 0.99}, // higher, but not the last stage
		{Epoch: 2, Stage: 2, TestLoss: 0.3, TestAccuracy: 0.95},
		{Epoch: 3, Stage: 2}, // not tested
		{Epoch: 4, Stage: 2, TestLoss: 0.2, TestAccuracy: 0.97},
		{Epoch: 5, Stage: 2, TestLoss: 0.2, TestAccuracy: 0.97}, // tie: the first stays
	}
	acc, epoch, n := BestTested(h, true)
	if acc != 0.97 || epoch != 4 || n != 3 {
		t.Errorf("best %v at epoch %d over %d epochs, want 0.97 at 4 over 3", acc, epoch, n)
	}
	if acc, epoch, n := BestTested(h, false); acc != 0.99 || epoch != 1 || n != 4 {
		t.Errorf("best of any epoch %v at epoch %d over %d epochs, want 0.99 at 1 over 4", acc, epoch, n)
	}
	if acc, epoch, n := BestTested(nil, true); acc != 0 || epoch != 0 || n != 0 {
		t.Errorf("empty history: %v, %d, %d", acc, epoch, n)
	}
}
