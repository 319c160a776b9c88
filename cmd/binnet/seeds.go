package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/binnet/binnet/binnet/sensitivity"
)

// runSensitivitySeeds is the sensitivity command with -seeds: one
// pre-training per seed, in OUT/seed-N, by the command itself (so -parallel
// and -layers apply to each seed and a re-run skips finished layers), then
// their results pooled (sensitivity.Pool: the layers ranked by the seeds'
// mean validation accuracies) into OUT/sensitivity.json. fs holds the
// parsed flags, sf their values. Until every seed is complete (a -layers
// subset), it pools nothing and says so.
func runSensitivitySeeds(ctx context.Context, fs *flag.FlagSet, sf *sensitivityFlags, list string, stdout, stderr io.Writer) error {
	r := &sf.run
	if r.given("seed") {
		return fmt.Errorf("-seed and -seeds: give one (-seeds %s runs a pre-training for each of its seeds)", list)
	}
	seeds, err := parseSeeds(list)
	if err != nil {
		return err
	}
	if len(seeds) < 2 {
		return fmt.Errorf("-seeds %s: give at least two seeds to pool (use -seed for one)", list)
	}
	p, err := r.preset()
	if err != nil {
		return err
	}
	dir := *sf.out
	if dir == "" {
		dir = defaultSensitivityDir(p.Name, datasetName(&sf.data, p), seeds...)
	}
	rest := setFlags(fs, "seeds", "seed", "out")
	var results []*sensitivity.Result
	var missing []string
	for _, seed := range seeds {
		out := filepath.Join(dir, fmt.Sprintf("seed-%d", seed))
		if !r.quiet {
			fmt.Fprintf(stdout, "seed %d (%s):\n", seed, out)
		}
		args := append(append([]string(nil), rest...), fmt.Sprintf("-seed=%d", seed), "-out="+out)
		w := stdout
		if r.quiet {
			w = io.Discard
		}
		if err := runSensitivityCommand(ctx, args, w, stderr); err != nil {
			return fmt.Errorf("seed %d: %w", seed, err)
		}
		path := filepath.Join(out, sensitivity.ResultFile)
		res, err := sensitivity.ReadResult(path)
		if os.IsNotExist(err) {
			missing = append(missing, strconv.FormatInt(seed, 10))
			continue
		}
		if err != nil {
			return fmt.Errorf("seed %d: %w", seed, err)
		}
		results = append(results, res)
	}
	if len(missing) > 0 {
		fmt.Fprintf(stdout, "seeds %s are not complete: %s is written once every seed has all its layers\n", strings.Join(missing, ","), filepath.Join(dir, sensitivity.ResultFile))
		return nil
	}
	pooled, err := sensitivity.Pool(results...)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, sensitivity.ResultFile)
	if err := sensitivity.WriteResultFile(path, pooled); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pooled over seeds %s:\n", list)
	printSensitivity(stdout, pooled, path)
	return nil
}
