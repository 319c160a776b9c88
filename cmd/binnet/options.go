package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/quant"
	"github.com/binnet/binnet/binnet/schedule"
	"github.com/binnet/binnet/binnet/sensitivity"
	"github.com/binnet/binnet/binnet/training"
)

// runOptions are the flags of a training run.
type runOptions struct {
	model          string
	epochs         int
	epochsPerLayer int
	layersPerStage int
	order          string
	sensitivity    string
	freeze         bool
	seed           int64
	lr             float64
	lrMilestones   string
	lrGamma        float64
	optimizer      string
	batch          int
	quantizer      string
	clip           bool
	resetLatent    bool
	testEachEpoch  bool
	maxLoss        float64
	quiet          bool
	devices        int
	stepsPerCall   int
	stepsLoop      bool
	threads        int

	flags *flag.FlagSet // the flag set registered on: tells a flag given as 0 from an omitted one
	// noted holds the order files already said to be read as the official
	// code's module indices (see schedule), so that a command that builds
	// the schedule of the same order several times says so once. Made by
	// registerSchedule; copies of the options share it.
	noted map[string]bool
}

// given reports whether the flag was set on the command line.
func (o *runOptions) given(name string) bool { return o.flags != nil && flagGiven(o.flags, name) }

// flagGiven reports whether the flag name of fs was set on the command line
// (a flag given as 0 rather than omitted).
func flagGiven(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// register registers the flags of a training run; withOrder adds the
// schedule's (see registerSchedule).
func (o *runOptions) register(fs *flag.FlagSet, withOrder bool) {
	o.registerSchedule(fs, withOrder)
	fs.Float64Var(&o.lr, "lr", 0, "learning rate (default: the preset's, 0.1 with Adam as in the paper's scripts)")
	fs.StringVar(&o.lrMilestones, "lr-milestones", "", "epochs after which the learning rate is multiplied by -lr-gamma, as PyTorch's MultiStepLR stepped after each epoch and the official ImageNet script's "+
		"--lr-milestones count them, e.g. 200,250; the official CIFAR-10 main.py steps its scheduler before each epoch, so its --scheduler-milestones M are M-1 here; "+
		"none for a constant rate (default: the preset's, e.g. resnet20's 999,1099, main.py's 1000,1100; a sensitivity pre-training's are its official script's)")
	fs.Float64Var(&o.lrGamma, "lr-gamma", 0, "factor of the learning rate at each of -lr-milestones (default: the preset's, 0.1)")
	fs.StringVar(&o.optimizer, "optimizer", "", "adam | sgd (default: the preset's)")
	fs.IntVar(&o.batch, "batch", 0, "batch size (default: the preset's, 100)")
	fs.StringVar(&o.quantizer, "quantizer", quant.STESign.Name(), "binarization: "+strings.Join(quant.Names(), " | "))
	fs.BoolVar(&o.clip, "clip", false, "clip latent weights of binarizable layers to [-1,1] after each step (the paper's code does not)")
	fs.Float64Var(&o.maxLoss, "max-loss", 0, "an epoch whose mean training loss is above this (or not finite) stops the run as diverged (default: 100 x ln(classes), 230 for 10 classes)")
	fs.BoolVar(&o.resetLatent, "official-eval-reset", false, "set the latent weights of binary layers to sign(w) after every epoch, the side effect of the official code's evaluation")
	fs.BoolVar(&o.testEachEpoch, "test-each-epoch", false, "evaluate the test set after every epoch too, as the official code's full-training scripts do: results.json gets each epoch's test accuracy and the best of the last stage (best_test_accuracy, selected on the test set: optimistic); training is unchanged, so a run may resume with or without it")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress output")
	fs.IntVar(&o.devices, "devices", 1, "split each training batch over this many devices of the backend (data parallel; XLA on several GPUs); at least 1")
	fs.IntVar(&o.stepsPerCall, "steps-per-call", 1, "run the training steps in groups of this many batches, each group one execution of a graph that unrolls its steps: "+
		"the same training with one host round trip per group, for small networks on a GPU (e.g. 10 for the MLPs); the pure-Go backend's fused Adam update runs one step per call whatever this says")
	fs.BoolVar(&o.stepsLoop, "steps-loop", false, "with -steps-per-call, run each group of steps as a While loop in the graph instead of unrolled: "+
		"the graph, and its compilation time, stay those of one step (XLA only; the pure-Go backend cannot compile the loop)")
	fs.IntVar(&o.threads, "threads", 0, threadsUsage)
}

// registerSchedule registers the flags that choose a model and, withOrder,
// its schedule: all that "binnet schedule" reads.
func (o *runOptions) registerSchedule(fs *flag.FlagSet, withOrder bool) {
	o.flags = fs
	o.noted = map[string]bool{}
	fs.StringVar(&o.model, "model", "mlp-300-100", "model preset: "+strings.Join(models.Names(), " | "))
	fs.Int64Var(&o.seed, "seed", 1, "random seed (initialization, shuffling, random order, noise)")
	if withOrder {
		fs.IntVar(&o.epochs, "epochs", 0, "total epochs (default: the preset's, 450 as in the paper)")
		fs.IntVar(&o.epochsPerLayer, "epochs-per-layer", 0, "epochs before the next layer of the order is binarized (default: the preset's, 150)")
		fs.IntVar(&o.layersPerStage, "layers-per-stage", 1, "layers binarized at each stage")
		fs.StringVar(&o.order, "order", "forward", "float | binary | forward | reverse | random | ascend | descend | a permutation such as 1,3,2 (layers numbered as binnet summary shows) | "+
			"FILE.json: a JSON array of those numbers, or a layer file of the paper's official code for the model (e.g. its models/resnet20_layers_descend.json: "+
			"PyTorch module indices, ranked, which stderr notes; an array that is neither is refused)")
		fs.StringVar(&o.sensitivity, "sensitivity", "", "sensitivity.json of a sensitivity run (for -order ascend|descend), or several separated by commas "+
			"(e.g. one per seed of the same pre-training), pooled: the layers ranked by their mean validation accuracies")
		fs.BoolVar(&o.freeze, "freeze", false, "freeze layers binarized in earlier stages (a variant; the paper keeps training them)")
	}
}

func (o *runOptions) preset() (models.Preset, error) { return models.Lookup(o.model) }

// check validates the training flags that need no data, before anything
// runs. A flag whose 0 means "the preset's value" is refused when given as
// 0 explicitly (omitted, it keeps meaning the preset's value), and every
// negative value is refused; each error names the flag and its value.
func (o *runOptions) check(p models.Preset) error {
	if o.lr < 0 || o.lr == 0 && o.given("lr") || math.IsNaN(o.lr) || math.IsInf(o.lr, 0) {
		return fmt.Errorf("-lr %v: the learning rate must be a positive number (omit -lr for the preset's)", o.lr)
	}
	if o.batch < 2 && (o.batch != 0 || o.given("batch")) {
		return fmt.Errorf("-batch %d: batch size %d: batch norm needs at least 2 examples per batch (omit -batch for the preset's)", o.batch, o.batch)
	}
	if o.maxLoss < 0 || o.maxLoss == 0 && o.given("max-loss") || math.IsNaN(o.maxLoss) {
		return fmt.Errorf("-max-loss %v: must be a positive number (omit -max-loss for 100 x ln(classes))", o.maxLoss)
	}
	ms, err := o.milestones(p)
	if err != nil {
		return err
	}
	if o.lrGamma < 0 || o.lrGamma == 0 && o.given("lr-gamma") || math.IsNaN(o.lrGamma) || math.IsInf(o.lrGamma, 0) {
		return fmt.Errorf("-lr-gamma %v: must be a positive factor (omit -lr-gamma for the preset's, 0.1)", o.lrGamma)
	}
	if o.given("lr-gamma") && len(ms) == 0 {
		return fmt.Errorf("-lr-gamma %v: %s has no learning-rate milestones to apply it at (give -lr-milestones)", o.lrGamma, p.Name)
	}
	// -optimizer SGD as -order FORWARD (trainingConfig lowers it).
	if name := strings.ToLower(o.optimizer); name != "" && name != "adam" && name != "sgd" {
		return fmt.Errorf("-optimizer: unknown optimizer %q (want adam or sgd)", o.optimizer)
	}
	if _, err := quant.Parse(o.quantizer); err != nil {
		return fmt.Errorf("-quantizer: %w", err)
	}
	if o.stepsPerCall < 1 {
		return fmt.Errorf("-steps-per-call %d: must be at least 1", o.stepsPerCall)
	}
	if err := checkStepsLoop(o.stepsLoop, o.stepsPerCall); err != nil {
		return err
	}
	if err := checkDevices(o.devices, o.stepsPerCall, firstNonZeroInt(o.batch, p.Hyper.BatchSize)); err != nil {
		return err
	}
	return checkThreads(o.threads)
}

// checkDevices refuses a -devices that is not positive, one above 1 with
// grouped steps (-steps-per-call; the step split over several devices runs
// one step per call), and one that the batch does not split over (train's
// and speed's flags alike).
func checkDevices(devices, perCall, batch int) error {
	switch {
	case devices < 1:
		return fmt.Errorf("-devices %d: must be at least 1", devices)
	case devices > 1 && perCall > 1:
		return fmt.Errorf("-devices %d with -steps-per-call %d: the step split over several devices runs one step per call", devices, perCall)
	case batch%devices != 0:
		return fmt.Errorf("-devices %d: batch size %d does not split over %d devices", devices, batch, devices)
	}
	return nil
}

// milestones returns the learning-rate milestones of a run of preset p:
// -lr-milestones parsed (none: no milestones), or the preset's.
func (o *runOptions) milestones(p models.Preset) ([]int, error) {
	s := strings.TrimSpace(o.lrMilestones)
	switch {
	case !o.given("lr-milestones"):
		return p.Hyper.LRMilestones, nil
	case strings.EqualFold(s, "none"):
		return nil, nil
	case s == "":
		return nil, errors.New("-lr-milestones: empty (give epochs such as 200,250, or none for a constant rate)")
	}
	var ms []int
	for _, f := range strings.Split(s, ",") {
		m, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("-lr-milestones %q: %q is not a number of epochs", s, f)
		}
		if m < 1 || len(ms) > 0 && m <= ms[len(ms)-1] {
			return nil, fmt.Errorf("-lr-milestones %q: want increasing epochs from 1, such as 200,250", s)
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// checkData validates the data flags of a run of preset p before any data
// is read: -workers (not 0 given explicitly, not negative) and -image-size,
// which only applies to -dataset imagenet (image folders), must be a
// positive side at least the network's minimum, and must leave a training
// step that fits in this machine's memory where the step runs in it
// (checkStepMemory).
func (o *runOptions) checkData(d *dataOptions, p models.Preset) error {
	for _, f := range []struct {
		name  string
		value int
	}{{"train-size", d.trainSize}, {"val-size", d.valSize}, {"test-size", d.testSize}} {
		if f.value == 0 && o.given(f.name) {
			return fmt.Errorf("-%s 0: must be at least 1 (omit -%s for the default)", f.name, f.name)
		}
	}
	if d.workers < 0 || d.workers == 0 && o.given("workers") {
		return fmt.Errorf("-workers %d: must be at least 1 (omit -workers for one per CPU)", d.workers)
	}
	// Flags of one data set's loader, refused for the others as -image-size
	// and -augment on are, rather than silently unused.
	for _, f := range []struct{ flag, dataset, what string }{
		{"workers", "imagenet", "image folders, whose JPEG decoding it spreads"},
		{"split-file", "cifar10", "CIFAR-10, whose validation images it names"},
		{"split-seed", "cifar10", "CIFAR-10, whose random validation split it seeds"},
	} {
		if name := datasetName(d, p); o.given(f.flag) && name != f.dataset {
			return fmt.Errorf("-%s: applies only to -dataset %s (%s); the data set here is %s", f.flag, f.dataset, f.what, name)
		}
	}
	if !o.given("image-size") && d.imageSize == 0 {
		return nil
	}
	if name := datasetName(d, p); name != "imagenet" {
		return fmt.Errorf("-image-size %d: applies only to -dataset imagenet (image folders, whose crops it sizes); the data set here is %s", d.imageSize, name)
	}
	net, err := imageSizeNetwork(p.Network, p.Name, d.imageSize)
	if err != nil {
		return err
	}
	return checkStepMemory(net, firstNonZeroInt(o.batch, p.Hyper.BatchSize), d.imageSize)
}

// applyThreads sets the threads of a run of preset p in this process (see
// applyThreads): -threads, or for a small training step one thread or every
// core, whichever is measured faster.
func (o *runOptions) applyThreads(p models.Preset, stderr io.Writer) error {
	_, err := applyThreads(o.threads, p.Network, firstNonZeroInt(o.batch, p.Hyper.BatchSize), o.quiet, stderr)
	return err
}

// schedule resolves the order and builds the schedule, rejecting impossible
// ones before any training.
func (o *runOptions) schedule(p models.Preset) (*schedule.Schedule, error) {
	n := p.Network.NumBinarizable()
	// 0 stands for the preset's value only when the flag is omitted: an
	// explicit "-epochs-per-layer 0" must not silently become 150.
	for _, f := range []struct {
		name  string
		value int
	}{{"epochs", o.epochs}, {"epochs-per-layer", o.epochsPerLayer}, {"layers-per-stage", o.layersPerStage}} {
		if f.value < 0 || f.value == 0 && o.given(f.name) {
			return nil, fmt.Errorf("-%s must be at least 1, got %d", f.name, f.value)
		}
	}
	epochs, epl := o.epochs, o.epochsPerLayer
	if epochs == 0 {
		epochs = p.Hyper.Epochs
	}
	if epl == 0 {
		epl = p.Hyper.EpochsPerLayer
	}
	var kind schedule.Kind
	var order []int
	if schedule.NeedsSensitivity(o.order) {
		if o.sensitivity == "" {
			return nil, fmt.Errorf("-order %s needs -sensitivity FILE (the sensitivity.json of 'binnet sensitivity')", o.order)
		}
		results, err := o.readSensitivity()
		if err != nil {
			return nil, err
		}
		r, err := sensitivity.Pool(results...)
		if err != nil {
			return nil, fmt.Errorf("-sensitivity %s: %w", o.sensitivity, err)
		}
		if err := sensitivity.CheckMatches(r, n, o.model); err != nil {
			return nil, err
		}
		// A ranking measured on other data (the data set names as
		// training.Config.Dataset records them, MNIST and its embedded
		// sample counting as one: datasets.SameData).
		for i, res := range results {
			if err := sensitivity.CheckDataset(res, o.datasetOf(p)); err != nil {
				return nil, fmt.Errorf("-sensitivity %s: %w", o.sensitivityFiles()[i], err)
			}
		}
		if order, err = r.Order(strings.ToLower(strings.TrimSpace(o.order))); err != nil {
			return nil, err
		}
		kind = schedule.KindIterative
	} else if schedule.IsOrderFile(o.order) {
		var err error
		if order, err = o.readOrderFile(p); err != nil {
			return nil, err
		}
		kind = schedule.KindIterative
	} else {
		var err error
		if kind, order, err = schedule.ParseOrder(o.order, n, o.seed); err != nil {
			return nil, err
		}
	}
	cfg := schedule.Config{NumLayers: n, Kind: kind, Order: order, TotalEpochs: epochs}
	if kind == schedule.KindIterative {
		cfg.EpochsPerStage = epl
		cfg.LayersPerStage = o.layersPerStage
		cfg.FreezeBinarized = o.freeze
	}
	s, err := schedule.New(cfg)
	if few := (*schedule.TooFewEpochsError)(nil); errors.As(err, &few) {
		return nil, o.tooFewEpochs(few, p)
	}
	return s, err
}

// tooFewEpochs says a schedule's too few epochs in the flags' terms
// (-epochs, -epochs-per-layer), saying which value is the preset's default
// rather than the user's.
func (o *runOptions) tooFewEpochs(e *schedule.TooFewEpochsError, p models.Preset) error {
	perLayer, total := "", ""
	if o.epochsPerLayer == 0 {
		perLayer = fmt.Sprintf("-epochs-per-layer defaults to the preset's %d", p.Hyper.EpochsPerLayer)
	}
	if o.epochs == 0 {
		total = fmt.Sprintf("-epochs defaults to the preset's %d", p.Hyper.Epochs)
	}
	return errors.New(e.Explain("-epochs", perLayer, total))
}

// unusedSensitivity returns a warning when -sensitivity is given with an
// order that does not read it (only ascend and descend do), or "".
func (o *runOptions) unusedSensitivity() string {
	if strings.TrimSpace(o.sensitivity) == "" || schedule.NeedsSensitivity(o.order) {
		return ""
	}
	return fmt.Sprintf("warning: -sensitivity %s is not read: -order %s does not use it (only ascend and descend do)\n", o.sensitivity, o.order)
}

// sensitivityFiles returns the files of -sensitivity, trimmed, when the
// order takes its ranking from them (ascend, descend); nil otherwise.
func (o *runOptions) sensitivityFiles() []string {
	if !schedule.NeedsSensitivity(o.order) || strings.TrimSpace(o.sensitivity) == "" {
		return nil
	}
	var paths []string
	for _, path := range strings.Split(o.sensitivity, ",") {
		paths = append(paths, strings.TrimSpace(path))
	}
	return paths
}

// sensitivityRecord returns sensitivityFiles as absolute paths (as given
// where that fails), for results.json (training.Results.SensitivityFiles).
func (o *runOptions) sensitivityRecord() []string {
	paths := o.sensitivityFiles()
	for i, path := range paths {
		if abs, err := filepath.Abs(path); err == nil {
			paths[i] = abs
		}
	}
	return paths
}

// readSensitivity reads the results of -sensitivity for an ascend or
// descend run, refusing a file or a seed listed twice: pooled, one
// pre-training would count as two seeds.
func (o *runOptions) readSensitivity() ([]*sensitivity.Result, error) {
	var results []*sensitivity.Result
	var infos []os.FileInfo
	seeds := map[int64]string{} // seed -> the file holding it
	for _, path := range o.sensitivityFiles() {
		r, err := sensitivity.ReadResult(path)
		if err != nil {
			return nil, err
		}
		if info, err := os.Stat(path); err == nil {
			for i, prev := range infos {
				if prev != nil && os.SameFile(prev, info) {
					return nil, fmt.Errorf("-sensitivity %s: %s is listed twice (as %s): pooled, one pre-training would count as two seeds",
						o.sensitivity, path, o.sensitivityFiles()[i])
				}
			}
			infos = append(infos, info)
		} else {
			infos = append(infos, nil)
		}
		fileSeeds := r.Seeds
		if len(fileSeeds) == 0 {
			fileSeeds = []int64{r.Seed}
		}
		for _, seed := range fileSeeds {
			if prev, dup := seeds[seed]; dup {
				return nil, fmt.Errorf("-sensitivity %s: %s and %s both hold a pre-training of seed %d: pooled, it would count as two seeds",
					o.sensitivity, prev, path, seed)
			}
			seeds[seed] = path
		}
		results = append(results, r)
	}
	return results, nil
}

// datasetOf returns the name of the data set that the run's -dataset and
// -data-dir choose for preset p (datasetName), read from the flag set they
// were registered on, or "" when it has none (binnet schedule).
func (o *runOptions) datasetOf(p models.Preset) string {
	if o.flags == nil {
		return ""
	}
	ds, dir := o.flags.Lookup("dataset"), o.flags.Lookup("data-dir")
	if ds == nil || dir == nil {
		return ""
	}
	return datasetName(&dataOptions{dataset: ds.Value.String(), dataDir: dir.Value.String()}, p)
}

// readOrderFile reads the order file -order names for preset p: binnet's
// layer numbers, or a layer file of the official code for the preset's
// network (its module indices, p.OfficialLayers), which it says on the
// flag set's output (stderr), once per file, whatever -quiet says: the
// same array with a typo would have been refused.
func (o *runOptions) readOrderFile(p models.Preset) ([]int, error) {
	path := strings.TrimSpace(o.order)
	var official *schedule.OfficialLayers
	if p.OfficialLayers != nil {
		official = &schedule.OfficialLayers{Network: p.Name, Indices: p.OfficialLayers}
	}
	f, err := schedule.ReadOrderFile(path, p.Network.NumBinarizable(), official)
	if err != nil {
		return nil, err
	}
	if f.Official && o.flags != nil && !o.noted[path] {
		if o.noted != nil {
			o.noted[path] = true
		}
		fmt.Fprintf(o.flags.Output(), "order file %s: the official code's module indices of %s [%s], ranked: %s\n",
			path, p.Name, formatInts(f.Entries, ","), schedule.FormatPermutation(f.Order))
	}
	return f.Order, nil
}

// trainingConfig returns the run configuration shared by train, compare and sensitivity.
func (o *runOptions) trainingConfig(p models.Preset, dataset string, stderr io.Writer) (training.Config, error) {
	if err := o.check(p); err != nil {
		return training.Config{}, err
	}
	q, err := quant.Parse(o.quantizer)
	if err != nil {
		return training.Config{}, err
	}
	opt := training.Optimizer{Name: p.Hyper.Optimizer, LearningRate: p.Hyper.LearningRate, Momentum: p.Hyper.Momentum, WeightDecay: p.Hyper.WeightDecay}
	if o.optimizer != "" {
		opt.Name = strings.ToLower(o.optimizer)
	}
	if o.lr != 0 {
		opt.LearningRate = o.lr
	}
	batch := p.Hyper.BatchSize
	if o.batch != 0 {
		batch = o.batch
	}
	milestones, err := o.milestones(p)
	if err != nil {
		return training.Config{}, err
	}
	cfg := training.Config{Model: p.Name, Dataset: dataset, Network: p.Network, Quantizer: q, Optimizer: opt,
		BatchSize: batch, EvalBatchSize: p.Hyper.EvalBatchSize, Seed: o.seed, ClipLatent: o.clip, ResetLatentEachEpoch: o.resetLatent, TestEachEpoch: o.testEachEpoch,
		LRMilestones: milestones, LRGamma: firstNonZero(o.lrGamma, p.Hyper.LRGamma), Devices: o.devices, StepsPerCall: o.stepsPerCall, LoopSteps: o.stepsLoop, MaxLoss: o.maxLoss}
	if !o.quiet {
		cfg.Progress = stderr
		cfg.Terminal = isTerminal(stderr)
	}
	return cfg, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// checkStepsLoop refuses -steps-loop without groups of steps to loop over,
// and on the pure-Go backend before any work (training.Run would, after
// printing the run's settings).
func checkStepsLoop(loop bool, perCall int) error {
	if loop && perCall < 2 {
		return fmt.Errorf("-steps-loop loops over the steps of a call: it needs -steps-per-call 2 or more (got %d)", perCall)
	}
	if name, _, _ := strings.Cut(backend.Configuration(), ":"); !loop || name != "go" {
		return nil
	}
	which := "GOMLX_BACKEND unset, the default"
	if env := os.Getenv(backend.EnvVar); env != "" {
		which = fmt.Sprintf("GOMLX_BACKEND=%q", env)
	}
	return fmt.Errorf("-steps-loop: the steps' While loop does not compile on the pure-Go backend (%s; gomlx/compute v0.1.14 "+
		"compiles a loop body before its optimization passes rewrite it): use XLA (GOMLX_BACKEND=xla:...), or -steps-per-call without it", which)
}
