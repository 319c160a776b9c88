package training

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// progress prints a live bar on a terminal, or one line per epoch elsewhere.
type progress struct {
	w        io.Writer
	terminal bool
	total    int
	batches  int
	epoch    int
	last     time.Time
	start    time.Time
}

func newProgress(w io.Writer, terminal bool) *progress { return &progress{w: w, terminal: terminal} }

func (p *progress) startEpoch(rec EpochRecord, totalEpochs, batches int) {
	p.total, p.batches, p.epoch = totalEpochs, batches, rec.Epoch
	p.start = time.Now()
	p.last = time.Time{}
}

func (p *progress) step(done int) {
	if p.w == nil || !p.terminal || time.Since(p.last) < 100*time.Millisecond && done != p.batches {
		return
	}
	p.last = time.Now()
	const width = 30
	filled := done * width / p.batches
	rate := float64(done) / time.Since(p.start).Seconds()
	fmt.Fprintf(p.w, "\r\033[Kepoch %d/%d [%s%s] %d/%d batches, %.0f batches/s",
		p.epoch, p.total, strings.Repeat("=", filled), strings.Repeat(" ", width-filled), done, p.batches, rate)
}

func (p *progress) finishEpoch(rec EpochRecord, err error) {
	if p.w == nil {
		return
	}
	if p.terminal {
		fmt.Fprint(p.w, "\r\033[K")
	}
	if err != nil {
		// The run's error, which its caller prints, says the rest.
		var div *DivergenceError
		if errors.As(err, &div) {
			fmt.Fprintf(p.w, "epoch %d/%d: diverged (loss %v)\n", rec.Epoch, p.total, div.Loss)
		} else {
			fmt.Fprintf(p.w, "epoch %d/%d: %v\n", rec.Epoch, p.total, err)
		}
		return
	}
	test := ""
	if rec.Tested() {
		test = fmt.Sprintf("  test acc %.4f", rec.TestAccuracy)
	}
	fmt.Fprintf(p.w, "epoch %3d/%d  stage %d  binary %-12s train loss %.4f acc %.4f  val loss %.4f acc %.4f%s  %.1fs\n",
		rec.Epoch, p.total, rec.Stage, layerList(rec.BinaryLayers), rec.TrainLoss, rec.TrainAccuracy, rec.ValLoss, rec.ValAccuracy, test, rec.Seconds)
}

func (p *progress) done(r *Results) {
	if p.w == nil {
		return
	}
	if r.TestExamples > 0 && r.TestLoss != 0 {
		fmt.Fprintf(p.w, "test accuracy %.4f (loss %.4f) after %d epochs, %.1fs of training\n", r.TestAccuracy, r.TestLoss, len(r.History), r.TrainSeconds)
	}
}

func layerList(l []int) string {
	if len(l) == 0 {
		return "-"
	}
	s := make([]string, len(l))
	for i, v := range l {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, ",")
}
