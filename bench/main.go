// Command bench measures peerd's throughput, latency, memory and CPU cost
// next to baselines measured in the same run, prints a table, and writes
// results.json, results.txt and SVG charts into an output directory.
//
//	go run ./bench -quick
//	go run ./bench -suites throughput -sizes 64KiB,256KiB -reps 5
//
// `peerd bench` runs the same command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/peerd/peerd/bench/harness"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := harness.Main(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.Exit(2)
	}
}
