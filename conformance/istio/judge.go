// Package conformance judges vmesh's output with Istio's own code: every generated object
// through Istio's validators, every cacerts Secret loaded as istiod loads a plug-in CA, and every
// federated call simulated in Istio's fake discovery server, from the client sidecar through the
// serving cluster's east-west gateway to the serving sidecar, authorization included.
// It runs as a Go test binary (see check_test.go and ./check) because Istio's fake discovery
// server and traffic simulation take a *testing.T.
package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	istiolog "istio.io/istio/pkg/log"
	"sigs.k8s.io/yaml"
)

// Failure is one thing Istio refused, at one step.
type Failure struct {
	Cluster string `json:"cluster"`
	Step    string `json:"step"`
	Subject string `json:"subject"`
	Message string `json:"message"`
}

// ClusterReport is what was checked in one cluster.
type ClusterReport struct {
	Name      string   `json:"name"`
	Validated int      `json:"objectsValidated"`
	Warnings  []string `json:"warnings,omitempty"`
	CAs       int      `json:"casLoaded"`
	Settings  []string `json:"istioSettingsApplied,omitempty"`
	Calls     []string `json:"callsSimulated"`
}

// Report is the verdict on one input.
type Report struct {
	Input    string           `json:"input"`
	Refused  []string         `json:"refusedByVmesh,omitempty"`
	Clusters []*ClusterReport `json:"clusters"`
	Notes    []string         `json:"notes,omitempty"`
	Failures []Failure        `json:"failures"`
}

func (r *Report) cluster(name string) *ClusterReport {
	for _, c := range r.Clusters {
		if c.Name == name {
			return c
		}
	}
	c := &ClusterReport{Name: name}
	r.Clusters = append(r.Clusters, c)
	sort.Slice(r.Clusters, func(i, j int) bool { return r.Clusters[i].Name < r.Clusters[j].Name })
	return c
}

func (r *Report) fail(cluster, step, subject, format string, args ...any) {
	r.Failures = append(r.Failures, Failure{Cluster: cluster, Step: step, Subject: subject, Message: fmt.Sprintf(format, args...)})
}

// reportOut is where reports are printed (the process's stdout).
var reportOut io.Writer = os.Stdout

// Options are the command line of the harness.
type Options struct {
	Vmesh    string
	Rendered bool
	JSON     string
	Quiet    bool
}

// JudgeAll judges every input, each in a subtest of t (Istio's discovery server and simulation
// need a *testing.T, and a subtest ends with its servers shut down), prints the reports and
// returns the exit code: 0 when every input passes or is rightly refused.
func JudgeAll(t *testing.T, opts Options, inputs []string) int {
	silenceIstio()
	bin := opts.Vmesh
	if bin == "" && !opts.Rendered {
		bin = defaultVmesh()
	}
	var reports []*Report
	failed := false
	for _, input := range inputs {
		var report *Report
		t.Run(filepath.Base(input), func(t *testing.T) {
			report = judgeInput(t, input, bin, opts.Rendered)
		})
		if report == nil {
			report = &Report{Input: input}
			report.fail("", "simulate", input, "Istio's discovery server stopped the run (see the log above)")
		}
		reports = append(reports, report)
		printReport(reportOut, report, opts.Quiet)
		if len(report.Failures) > 0 {
			failed = true
		}
	}
	printSummary(reportOut, reports)
	if opts.JSON != "" {
		text, _ := json.MarshalIndent(reports, "", "  ")
		if err := os.WriteFile(opts.JSON, append(text, '\n'), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "check: %v\n", err)
			return 1
		}
	}
	if failed {
		return 1
	}
	return 0
}

// silenceIstio keeps Istio's own logging (debounce, push, cache notes) out of the report.
func silenceIstio() {
	for _, s := range istiolog.Scopes() {
		s.SetOutputLevel(istiolog.NoneLevel)
	}
}

// defaultVmesh is the release build of the repository the harness lives in.
func defaultVmesh() string {
	exe, err := os.Executable()
	if err == nil {
		// conformance/istio/.bin/conformance.test → the repository root.
		root := filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(exe))))
		candidate := filepath.Join(root, "target", "release", "vmesh")
		if _, err := os.Stat(candidate); err == nil {
			return candidate
		}
	}
	return "vmesh"
}

func judgeInput(t *testing.T, input, bin string, rendered bool) *Report {
	report := &Report{Input: input}
	text, err := readInput(input)
	if err != nil {
		report.fail("", "render", input, "cannot read the input: %v", err)
		return report
	}
	output := text
	if !rendered {
		whole, sliced := withoutSlice(text)
		if sliced != "" {
			report.Notes = append(report.Notes, "the functionConfig renders only cluster "+sliced+
				"; the harness judges the whole render, of which that slice is a part")
		}
		out, refused, err := runVmesh(bin, whole)
		if err != nil {
			report.fail("", "render", input, "%v", err)
			return report
		}
		if refused != nil {
			report.Refused = refused
			return report
		}
		output = out
	}
	list, err := readResourceList(output)
	if err != nil {
		report.fail("", "render", input, "vmesh's output: %v", err)
		return report
	}
	judge(t, list, report)
	return report
}

// readInput reads a ResourceList file, or a package directory as kpt reads it (`kpt fn source`,
// which honours .krmignore), with its VirtualMeshRenderer as the functionConfig.
func readInput(input string) ([]byte, error) {
	info, err := os.Stat(input)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return os.ReadFile(input)
	}
	if _, err := exec.LookPath("kpt"); err != nil {
		return nil, fmt.Errorf("%s is a directory: reading a package needs kpt on PATH", input)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("kpt", "fn", "source", input)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("kpt fn source %s: %v (%s)", input, err, strings.TrimSpace(stderr.String()))
	}
	var list map[string]any
	if err := yaml.Unmarshal(stdout.Bytes(), &list); err != nil {
		return nil, fmt.Errorf("kpt fn source %s: %v", input, err)
	}
	items, _ := list["items"].([]any)
	kept := make([]any, 0, len(items))
	for _, item := range items {
		m, ok := item.(map[string]any)
		if !ok || m["apiVersion"] == nil || m["kind"] == nil {
			// Not a Kubernetes object (vmesh render skips such files too).
			continue
		}
		if m["kind"] == "VirtualMeshRenderer" {
			list["functionConfig"] = m
			continue
		}
		kept = append(kept, item)
	}
	list["items"] = kept
	return yaml.Marshal(list)
}

// withoutSlice drops a `cluster` setting from the functionConfig: a federated call needs the
// objects of both its clusters.
func withoutSlice(text []byte) ([]byte, string) {
	var list map[string]any
	if err := yaml.Unmarshal(text, &list); err != nil {
		return text, ""
	}
	config, _ := list["functionConfig"].(map[string]any)
	for _, section := range []string{"spec", "data"} {
		fields, _ := config[section].(map[string]any)
		if cluster, ok := fields["cluster"].(string); ok && cluster != "" {
			delete(fields, "cluster")
			whole, err := yaml.Marshal(list)
			if err != nil {
				return text, ""
			}
			return whole, cluster
		}
	}
	return text, ""
}

// runVmesh renders one input; refused lists vmesh's error results when it rightly refuses.
func runVmesh(bin string, input []byte) (output []byte, refused []string, err error) {
	cmd := exec.Command(bin)
	cmd.Stdin = bytes.NewReader(input)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var exit *exec.ExitError
	if errors.As(runErr, &exit) && exit.ExitCode() == 1 {
		list, err := readResourceList(stdout.Bytes())
		if err != nil {
			return nil, nil, fmt.Errorf("vmesh exited 1 without a ResourceList: %s", strings.TrimSpace(stderr.String()))
		}
		for _, r := range list.Results {
			if r.Severity == "error" {
				refused = append(refused, r.Message)
			}
		}
		if len(refused) == 0 {
			return nil, nil, fmt.Errorf("vmesh exited 1 without an error result: %s", strings.TrimSpace(stderr.String()))
		}
		return nil, refused, nil
	}
	if runErr != nil {
		return nil, nil, fmt.Errorf("running %s: %v (%s)", bin, runErr, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil, nil
}

// judge runs every check on one rendered ResourceList, whose input items (which vmesh passes
// through unchanged) say what the output must do.
func judge(t *testing.T, list *ResourceList, report *Report) {
	in, err := readInputs(list)
	if err != nil {
		report.fail("", "render", "inputs", "%v", err)
		return
	}
	generated := generatedByCluster(list)
	for cluster, objects := range generated {
		rc := report.cluster(cluster)
		validateObjects(cluster, objects, rc, report)
	}
	checkCertificates(generated, in.trustDomains(), report)
	exp := computeExpectations(in)
	report.Notes = append(report.Notes, exp.Notes...)
	if len(exp.Calls) == 0 && len(exp.NotFederated) == 0 {
		return
	}
	simulateTraffic(t, in, exp, generated, report)
}

// Generated is one object vmesh rendered for a cluster.
type Generated struct {
	Kind, Namespace, Name, APIVersion string
	Raw                               map[string]any
	YAML                              string
}

// Annotations are the object's metadata.annotations.
func (g Generated) Annotations() map[string]string {
	out := map[string]string{}
	meta, _ := g.Raw["metadata"].(map[string]any)
	annotations, _ := meta["annotations"].(map[string]any)
	for k, v := range annotations {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

func (g Generated) String() string {
	return fmt.Sprintf("%s %s/%s", g.Kind, g.Namespace, g.Name)
}

// generatedByCluster picks vmesh's own outputs (its managed-by label and cluster annotation).
func generatedByCluster(list *ResourceList) map[string][]Generated {
	out := map[string][]Generated{}
	for _, raw := range list.Items {
		item, err := itemOf(raw)
		if err != nil {
			continue
		}
		if item.Metadata.Labels["app.kubernetes.io/managed-by"] != "vmesh" {
			continue
		}
		cluster := item.Metadata.Annotations["vmesh.dev/cluster"]
		if settingsFor := item.Metadata.Annotations["vmesh.dev/istio-settings-cluster"]; settingsFor != "" {
			// A management item: the settings of that cluster's Istio installation.
			cluster = settingsFor
		}
		if cluster == "" {
			continue
		}
		text, _ := yaml.Marshal(raw)
		out[cluster] = append(out[cluster], Generated{
			Kind: item.Kind, Namespace: item.Metadata.Namespace, Name: item.Metadata.Name,
			APIVersion: item.APIVersion, Raw: raw, YAML: string(text),
		})
	}
	return out
}

func printReport(w io.Writer, r *Report, quiet bool) {
	fmt.Fprintf(w, "== %s\n", r.Input)
	if len(r.Refused) > 0 {
		fmt.Fprintf(w, "   refused by vmesh (%d error results), not judged:\n", len(r.Refused))
		for _, m := range r.Refused {
			fmt.Fprintf(w, "     - %s\n", firstLine(m))
		}
		return
	}
	for _, c := range r.Clusters {
		fmt.Fprintf(w, "   cluster %-20s objects validated %3d   cacerts loaded %d   calls simulated %d\n",
			c.Name, c.Validated, c.CAs, len(c.Calls))
		for _, s := range c.Settings {
			fmt.Fprintf(w, "     mesh config: Istio settings %s applied\n", s)
		}
		if !quiet {
			for _, call := range c.Calls {
				fmt.Fprintf(w, "     call %s\n", call)
			}
		}
		for _, warning := range c.Warnings {
			fmt.Fprintf(w, "     warning %s\n", warning)
		}
	}
	if !quiet {
		for _, n := range r.Notes {
			fmt.Fprintf(w, "   note: %s\n", n)
		}
	}
	if len(r.Failures) == 0 {
		fmt.Fprintf(w, "   PASS\n")
		return
	}
	fmt.Fprintf(w, "   FAIL (%d)\n", len(r.Failures))
	fmt.Fprintf(w, "     %-12s %-10s %s\n", "CLUSTER", "STEP", "SUBJECT: ISTIO SAYS")
	for _, f := range r.Failures {
		fmt.Fprintf(w, "     %-12s %-10s %s: %s\n", f.Cluster, f.Step, f.Subject, f.Message)
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

func printSummary(w io.Writer, reports []*Report) {
	passed, failed, refused, calls := 0, 0, 0, 0
	for _, r := range reports {
		for _, c := range r.Clusters {
			calls += len(c.Calls)
		}
		switch {
		case len(r.Refused) > 0:
			refused++
		case len(r.Failures) > 0:
			failed++
		default:
			passed++
		}
	}
	fmt.Fprintf(w, "%d inputs: %d passed, %d failed, %d refused by vmesh; %d calls simulated\n",
		len(reports), passed, failed, refused, calls)
}
