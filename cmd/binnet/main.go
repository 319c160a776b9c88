// Command binnet trains binary-weight neural networks by iterative layer
// binarization (Lan 2021, arXiv 2111.07046).
//
//	binnet compare                 float, binary, forward and reverse on the embedded sample
//	binnet train -order forward    one training run
//	binnet sensitivity             per-layer sensitivity pre-training (guided orders)
//	binnet schedule                print a schedule's stage table
//	binnet models                  list the model presets
//	binnet report -runs DIR        Markdown tables of the runs under DIR
//	binnet fetch -dataset mnist    download a data set, checksums verified
//	binnet speed -model vgg5       time a training step on the selected backend
//
// Run "binnet COMMAND -h" for the flags of a command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"compare", "train several orders on the same data and print a comparison table (the main job)", runCompare},
	{"train", "train one network with a binarization schedule", runTrain},
	{"sensitivity", "per-layer sensitivity pre-training; writes the ascend/descend orders", runSensitivityCommand},
	{"sweep", "train every order with every seed as parallel processes, resumable; prints the report", runSweep},
	{"schedule", "print the stage table of a schedule", runSchedule},
	{"models", "list the model presets and their hyper-parameters", runModels},
	{"report", "summarize results.json and sensitivity.json files as Markdown tables", runReport},
	{"fetch", "download MNIST or Fashion-MNIST into the cache, verifying checksums", runFetch},
	{"summary", "per-layer modes, parameters, bits, memory and MACs/additions of a model", runSummary},
	{"export", "export a trained run to a .bnn file (packed sign bits, folded batch norm)", runExport},
	{"infer", "run a .bnn model with the pure-Go add-only runtime: accuracy and latency", runInfer},
	{"speed", "time a model's training step on random data with the selected backend (examples/s)", runSpeed},
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "binnet trains binary-weight networks by iterative layer binarization.\n\nUsage: binnet COMMAND [flags]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun \"binnet COMMAND -h\" for a command's flags. The backend is chosen by GOMLX_BACKEND (default: go).\n")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line and returns the exit code. Errors are
// printed as one message, never as a Go panic trace (set BINNET_TRACE=1 to
// see the trace of an internal error).
func run(args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "binnet: internal error: %v\n", r)
			if os.Getenv("BINNET_TRACE") != "" {
				stderr.Write(debug.Stack())
			}
			code = 3
		}
	}()
	if len(args) > 2 && args[0] == "help" {
		fmt.Fprintf(stderr, "binnet help: one command name, got %q\n", args[1:])
		return 2
	}
	if len(args) == 2 && args[0] == "help" {
		// binnet help CMD is binnet CMD -h.
		args = []string{args[1], "-h"}
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	ctx, stop := signalContext()
	defer stop()
	for _, c := range commands {
		if c.name == args[0] {
			err := c.run(ctx, args[1:], stdout, stderr)
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				return 2
			default:
				// "binnet sensitivity: layer 1: ...", not "binnet
				// sensitivity: sensitivity: layer 1: ..." when the package
				// of the same name prefixed its error.
				fmt.Fprintf(stderr, "binnet %s: %s\n", c.name, strings.TrimPrefix(err.Error(), c.name+": "))
				return exitCode(ctx)
			}
		}
	}
	fmt.Fprintf(stderr, "binnet: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// signalError is the cancel cause of the context of a command interrupted
// by a signal.
type signalError struct{ sig syscall.Signal }

func (e signalError) Error() string { return e.sig.String() + " signal received" }

// Is makes the cause a context.Canceled, as signal.NotifyContext's is.
func (e signalError) Is(target error) bool { return target == context.Canceled }

// signalContext returns a context cancelled, with a signalError cause, on
// SIGINT or SIGTERM (later signals are ignored until stop is called).
func signalContext() (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-ch:
			if sig, ok := s.(syscall.Signal); ok {
				cancel(signalError{sig})
			} else {
				cancel(nil)
			}
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		cancel(nil)
		signal.Stop(ch)
	}
}

// exitCode is the exit code of a command that failed: 1, or, when a signal
// interrupted it, the shell's code of a command the signal killed (128 +
// the signal's number: 130 for SIGINT, Ctrl-C, and 143 for SIGTERM).
func exitCode(ctx context.Context) int {
	var sig signalError
	if errors.As(context.Cause(ctx), &sig) {
		return 128 + int(sig.sig)
	}
	return 1
}

// errUsage marks a flag error already printed by the flag package.
var errUsage = errors.New("usage error")

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q: %s takes flags only; give files and folders with theirs (%s -h lists them)\n",
			fs.Arg(0), fs.Name(), fs.Name())
		return errUsage
	}
	return nil
}
