package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/pybundle/pybundle/pipeline/dispatch"
)

// runDispatch sends one target's build to a native runner over SSH (dispatch.Run) and prints
// dispatch.Result as JSON on stdout; the runner's log goes to stderr as it comes. The job is a
// JSON file written by the module (dispatch.Job).
func runDispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("dispatch", stderr)
	var jobFile string
	fs.StringVar(&jobFile, "job", "", "the job, as JSON (dispatch.Job) (required)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if jobFile == "" {
		return usageError(fs, stderr, "--job is required")
	}
	b, err := os.ReadFile(jobFile)
	if err != nil {
		return usageError(fs, stderr, err.Error())
	}
	var j dispatch.Job
	if err := json.Unmarshal(b, &j); err != nil {
		return usageError(fs, stderr, fmt.Sprintf("%s: %v", jobFile, err))
	}
	res, err := dispatch.Run(ctx, j, dispatch.Runtime{Log: stderr})
	if err != nil && res.Error == nil {
		return usageError(fs, stderr, err.Error())
	}
	if err != nil {
		fmt.Fprintln(stderr, "pybundle dispatch:", err)
	}
	if code := printJSON(stdout, stderr, res); code != exitPass {
		return code
	}
	if !res.OK {
		return exitFail
	}
	return exitPass
}
