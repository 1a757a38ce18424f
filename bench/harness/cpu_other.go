//go:build !unix

package harness

import "time"

func processCPU() time.Duration { return 0 }

func peakRSS() int64 { return 0 }
