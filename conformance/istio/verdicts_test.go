package conformance

// TestVerdicts: Istio's own validators judge the objects vmesh would render from each value
// of testdata/verdicts.json, and must agree with the verdict written there (which the Rust
// test validate::tests::verdicts_agree_with_istio holds vmesh's rules to). Run it as
//   conformance/istio/.bin/conformance.test -test.run '^TestVerdicts$' conformance/istio/testdata/verdicts.json

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"testing"

	"istio.io/istio/pkg/config/validation/agent"
)

type verdict struct {
	Field string `json:"field"`
	Value any    `json:"value"`
	Valid bool   `json:"valid"`
}

type verdicts struct {
	Paths            []verdict `json:"paths"`
	Methods          []verdict `json:"methods"`
	Ports            []verdict `json:"ports"`
	Namespaces       []verdict `json:"namespaces"`
	HostnameSuffixes []verdict `json:"hostnameSuffixes"`
	TrustDomains     []verdict `json:"trustDomains"`
	GatewayAddresses []verdict `json:"gatewayAddresses"`
}

func TestVerdicts(t *testing.T) {
	text, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		t.Fatal(err)
	}
	var v verdicts
	if err := json.Unmarshal(text, &v); err != nil {
		t.Fatal(err)
	}
	policy := func(operation, source string) string {
		return fmt.Sprintf(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: apps}
spec:
  selector: {matchLabels: {app: echo}}
  action: ALLOW
  rules:
  - {to: [{operation: %s}]%s}
`, operation, source)
	}
	js := func(x any) string { b, _ := json.Marshal(x); return string(b) }
	for _, c := range v.Paths {
		judgeVerdict(t, "path", c, policy(fmt.Sprintf(`{paths: [%s]}`, js(c.Value)), ``))
	}
	for _, c := range v.Methods {
		judgeVerdict(t, "method", c, policy(fmt.Sprintf(`{methods: [%s]}`, js(c.Value)), ``))
	}
	for _, c := range v.Ports {
		// vmesh writes ports as strings, as Istio's API has them.
		judgeVerdict(t, "port", c, policy(fmt.Sprintf(`{ports: ["%v"]}`, c.Value), ``))
	}
	for _, c := range v.Namespaces {
		judgeVerdict(t, "namespace", c, policy(`{methods: [GET]}`, fmt.Sprintf(`, from: [{source: {namespaces: [%s]}}]`, js(c.Value))))
	}
	serviceEntry := func(host, address, resolution string) string {
		return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: se, namespace: istio-system}
spec:
  hosts: [%s]
  addresses: [240.0.0.1]
  location: MESH_INTERNAL
  resolution: %s
  ports: [{number: 9080, name: http, protocol: HTTP}]
  endpoints: [{address: %s, ports: {http: 15443}}]
`, js(host), resolution, js(address))
	}
	for _, c := range v.HostnameSuffixes {
		judgeVerdict(t, "hostnameSuffix", c, serviceEntry(fmt.Sprintf("echo.apps.svc.cluster-1.%v", c.Value), "35.0.0.1", "STATIC"))
	}
	for _, c := range v.TrustDomains {
		// The trust domain goes into the mesh config vmesh renders for each cluster.
		err := agent.ValidateTrustDomain(fmt.Sprint(c.Value))
		if (err == nil) != c.Valid {
			t.Errorf("trust domain %v: testdata says valid=%v, Istio says error=%v", c.Value, c.Valid, err)
		} else {
			fmt.Fprintf(os.Stderr, "trust domain %v: Istio agrees (valid=%v)\n", c.Value, c.Valid)
		}
	}
	for _, c := range v.GatewayAddresses {
		address := fmt.Sprint(c.Value)
		// vmesh resolves an endpoint that is an IP statically, anything else by DNS.
		resolution := "DNS"
		if _, err := netip.ParseAddr(address); err == nil {
			resolution = "STATIC"
		}
		judgeVerdict(t, "gateway "+c.Field, c, serviceEntry("echo.apps.svc.cluster-1.global", address, resolution))
	}
}

func judgeVerdict(t *testing.T, what string, c verdict, yaml string) {
	t.Helper()
	cfg, s, err := istioConfig(Generated{YAML: yaml})
	if err != nil {
		// The object itself must read: only the validator's verdict counts.
		t.Fatalf("%s %v: the test's object does not read: %v\n%s", what, c.Value, err, yaml)
	}
	_, err = s.ValidateConfig(*cfg)
	if (err == nil) != c.Valid {
		t.Errorf("%s %v: testdata says valid=%v, Istio says error=%v", what, c.Value, c.Valid, err)
	} else {
		fmt.Fprintf(os.Stderr, "%s %v: Istio agrees (valid=%v)\n", what, c.Value, c.Valid)
	}
}
