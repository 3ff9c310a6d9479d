package conformance

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// The harness's command line, parsed with the test binary's own flags:
// check [--vmesh PATH] [--rendered] [--json FILE] [--quiet] INPUT.yaml...
var (
	vmeshFlag    = flag.String("vmesh", "", "the vmesh binary (default: target/release/vmesh of the repository)")
	renderedFlag = flag.Bool("rendered", false, "each INPUT is already vmesh's output ResourceList: judge it without running vmesh")
	jsonFlag     = flag.String("json", "", "also write the reports as JSON to this file")
	quietFlag    = flag.Bool("quiet", false, "print only the tables, failures and the summary")
)

var exitCode = 0

func TestMain(m *testing.M) {
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: check [--vmesh PATH] [--rendered] [--json FILE] [--quiet] INPUT.yaml...")
		os.Exit(2)
	}
	// The report goes to stdout; the test framework's own lines (its PASS/FAIL, and the log of
	// an Istio component that stops a subtest) go to stderr.
	reportOut = os.Stdout
	os.Stdout = os.Stderr
	if code := m.Run(); code != 0 && exitCode == 0 {
		exitCode = code
	}
	os.Exit(exitCode)
}

// TestJudge is the harness run: every INPUT of the command line.
func TestJudge(t *testing.T) {
	opts := Options{Vmesh: *vmeshFlag, Rendered: *renderedFlag, JSON: *jsonFlag, Quiet: *quietFlag}
	exitCode = JudgeAll(t, opts, flag.Args())
}
