package conformance

// Steps 1 and 2: Istio's validators on every generated Istio object, and every cacerts Secret
// loaded as istiod loads a plug-in CA, then cross-cluster trust proven with a signed workload
// certificate.

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/schema/collections"
	"istio.io/istio/pkg/config/schema/resource"
	"istio.io/istio/security/pkg/pki/ca"
	"istio.io/istio/security/pkg/pki/util"
	kubeyaml "k8s.io/apimachinery/pkg/util/yaml"
)

func isIstioKind(g Generated) bool {
	group := strings.SplitN(g.APIVersion, "/", 2)[0]
	return strings.HasSuffix(group, ".istio.io")
}

// istioConfig converts a generated object the way istiod's CRD client does.
func istioConfig(g Generated) (*config.Config, resource.Schema, error) {
	obj := crd.IstioKind{}
	decoder := kubeyaml.NewYAMLOrJSONDecoder(strings.NewReader(g.YAML), 512*1024)
	if err := decoder.Decode(&obj); err != nil {
		return nil, nil, fmt.Errorf("cannot decode: %v", err)
	}
	gvk := obj.GroupVersionKind()
	s, ok := collections.PilotGatewayAPI().FindByGroupVersionAliasesKind(resource.FromKubernetesGVK(&gvk))
	if !ok {
		return nil, nil, fmt.Errorf("Istio has no kind %s", gvk.String())
	}
	cfg, err := crd.ConvertObject(s, &obj, "")
	if err != nil {
		return nil, nil, fmt.Errorf("cannot parse proto message for %v: %v", obj.Name, err)
	}
	return cfg, s, nil
}

func validateObjects(cluster string, objects []Generated, rc *ClusterReport, report *Report) {
	for _, g := range objects {
		if !isIstioKind(g) {
			continue
		}
		cfg, s, err := istioConfig(g)
		if err != nil {
			report.fail(cluster, "validate", g.String(), "%v", err)
			continue
		}
		warning, err := s.ValidateConfig(*cfg)
		rc.Validated++
		if err != nil {
			report.fail(cluster, "validate", g.String(), "%v", err)
		}
		if warning != nil {
			rc.Warnings = append(rc.Warnings, fmt.Sprintf("%s: %v", g, warning))
		}
	}
}

// PluggedCA is one cluster's cacerts as istiod loaded it.
type PluggedCA struct {
	Cluster   string
	Secret    string
	CA        *ca.IstioCA
	Root      []byte
	Chain     []byte
	TrustRoot []byte
}

func secretData(g Generated) map[string][]byte {
	out := map[string][]byte{}
	if data, ok := g.Raw["data"].(map[string]any); ok {
		for k, v := range data {
			if s, ok := v.(string); ok {
				if b, err := base64.StdEncoding.DecodeString(s); err == nil {
					out[k] = b
				}
			}
		}
	}
	if data, ok := g.Raw["stringData"].(map[string]any); ok {
		for k, v := range data {
			if s, ok := v.(string); ok {
				out[k] = []byte(s)
			}
		}
	}
	return out
}

// loadPluggedCA writes a cacerts Secret's keys to files, as the Secret's volume mount does at
// ./etc/cacerts, and builds istiod's CA from them (NewPluggedCertIstioCAOptions + NewIstioCA).
func loadPluggedCA(g Generated) (*PluggedCA, error) {
	data := secretData(g)
	dir, err := os.MkdirTemp("", "cacerts-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for _, key := range []string{"ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem"} {
		if len(data[key]) == 0 {
			return nil, fmt.Errorf("the Secret has no %s", key)
		}
		if err := os.WriteFile(filepath.Join(dir, key), data[key], 0o600); err != nil {
			return nil, err
		}
	}
	bundle := ca.SigningCAFileBundle{
		RootCertFile:    filepath.Join(dir, "root-cert.pem"),
		CertChainFiles:  []string{filepath.Join(dir, "cert-chain.pem")},
		SigningCertFile: filepath.Join(dir, "ca-cert.pem"),
		SigningKeyFile:  filepath.Join(dir, "ca-key.pem"),
	}
	opts, err := ca.NewPluggedCertIstioCAOptions(bundle, 24*time.Hour, 90*24*time.Hour, 2048)
	if err != nil {
		return nil, err
	}
	istioCA, err := ca.NewIstioCA(opts)
	if err != nil {
		return nil, err
	}
	return &PluggedCA{CA: istioCA, Root: data["root-cert.pem"], Chain: data["cert-chain.pem"]}, nil
}

// signWorkload has a cluster's CA sign a workload certificate, as istiod answers a CSR.
func signWorkload(p *PluggedCA, spiffe string) ([]byte, []byte, error) {
	csr, key, err := util.GenCSR(util.CertOptions{Host: spiffe, RSAKeySize: 2048})
	if err != nil {
		return nil, nil, err
	}
	leaf, err := p.CA.Sign(csr, ca.CertOpts{SubjectIDs: []string{spiffe}, TTL: time.Hour})
	if err != nil {
		return nil, nil, err
	}
	return leaf, key, nil
}

// verifyAgainst verifies a workload's chain (leaf + the signing cluster's cert chain) against
// another cluster's root-cert.pem, as the peer's proxy does.
func verifyAgainst(leaf, chain, roots []byte) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(roots) {
		return fmt.Errorf("root-cert.pem holds no certificate")
	}
	intermediates := x509.NewCertPool()
	intermediates.AppendCertsFromPEM(chain)
	block, _ := pem.Decode(leaf)
	if block == nil {
		return fmt.Errorf("the signed certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return err
	}
	_, err = cert.Verify(x509.VerifyOptions{Roots: pool, Intermediates: intermediates, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

func isCacerts(g Generated) bool {
	return g.Kind == "Secret" && g.Name == "cacerts"
}

func checkCertificates(generated map[string][]Generated, trustDomains map[string]string, report *Report) {
	var cas []*PluggedCA
	clusters := make([]string, 0, len(generated))
	for c := range generated {
		clusters = append(clusters, c)
	}
	sort.Strings(clusters)
	for _, cluster := range clusters {
		for _, g := range generated[cluster] {
			if !isCacerts(g) {
				continue
			}
			p, err := loadPluggedCA(g)
			if err != nil {
				report.fail(cluster, "ca", g.String(), "istiod cannot load the plug-in CA: %v", err)
				continue
			}
			p.Cluster, p.Secret = cluster, g.String()
			report.cluster(cluster).CAs++
			cas = append(cas, p)
		}
	}
	for _, signer := range cas {
		td := trustDomains[signer.Cluster]
		if td == "" {
			td = "cluster.local"
		}
		spiffe := fmt.Sprintf("spiffe://%s/ns/default/sa/default", td)
		leaf, _, err := signWorkload(signer, spiffe)
		if err != nil {
			report.fail(signer.Cluster, "ca", signer.Secret, "istiod's CA cannot sign a workload certificate: %v", err)
			continue
		}
		chain := append(append([]byte{}, leaf...), signer.Chain...)
		if err := util.VerifyCertificate(nil, chain, signer.Root, nil); err != nil {
			report.fail(signer.Cluster, "ca", signer.Secret, "a workload certificate does not verify against its own root: %v", err)
		}
		for _, peer := range cas {
			if peer == signer {
				continue
			}
			if err := verifyAgainst(leaf, signer.Chain, peer.Root); err != nil {
				report.fail(peer.Cluster, "ca", peer.Secret,
					"a workload certificate signed in %s does not verify against this root-cert.pem: %v", signer.Cluster, err)
			}
		}
	}
}
