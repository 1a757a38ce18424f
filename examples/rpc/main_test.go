package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestRun(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out))
	want := "greet: hello, gopher\n" +
		"progress: step 1 of 3\nprogress: step 2 of 3\nprogress: step 3 of 3\nwork: finished\n" +
		"counter: 1\ncounter: 2\ncounter: 3\n"
	got := out.String()
	assert.Contains(t, got, "(matches: true)")
	for _, line := range bytes.Split([]byte(want), []byte("\n")) {
		assert.Contains(t, got, string(line))
	}
}
