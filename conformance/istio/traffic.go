package conformance

// Step 3: every federated call, simulated in Istio's own discovery server. One fake discovery
// server per cluster holds that cluster's rendered objects, the Kubernetes objects the inputs
// describe, and the cluster's mesh config; Istio then generates the Envoy configuration of the
// client sidecar, the serving cluster's east-west gateway and the serving sidecar, and Istio's
// traffic simulation walks a call through each.

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"sigs.k8s.io/yaml"
	"sort"
	"strings"
	"testing"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	meshconfig "istio.io/api/mesh/v1alpha1"
	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/pkg/simulation"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pilot/test/xdstest"
	clusterid "istio.io/istio/pkg/cluster"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/host"
	kubeconv "istio.io/istio/pkg/config/kube"
	"istio.io/istio/pkg/config/mesh"
	dnsserver "istio.io/istio/pkg/dns/server"
)

// World is every cluster's discovery server and the proxies the calls go through.
type World struct {
	t        *testing.T
	in       *Inputs
	clusters map[string]*Cluster
	servers  map[string]*xds.FakeDiscoveryServer
	// meshConfigs are each cluster's mesh config in force.
	meshConfigs map[string]*meshconfig.MeshConfig
	sims        map[string]*simulation.Simulation
	proxies     map[string]*model.Proxy
	report      *Report
}

// dnsCapture: the client cluster's sidecars capture DNS, by the mesh config in force (the
// Mesh's discovered setting, or the Istio settings vmesh rendered for it).
func (w *World) dnsCapture(clusterName string) bool {
	mc := w.meshConfigs[clusterName]
	return mc != nil && mc.GetDefaultConfig().GetProxyMetadata()["ISTIO_META_DNS_CAPTURE"] == "true"
}

func trustDomain(m *Mesh) string {
	if m.Istio.TrustDomain != "" {
		return m.Istio.TrustDomain
	}
	return "cluster.local"
}

func rootNamespace(m *Mesh) string {
	if m.Istio.Installation.Namespace != "" {
		return m.Istio.Installation.Namespace
	}
	return "istio-system"
}

// meshConfig is the cluster's mesh config: the installation the inputs describe (the Mesh's
// trust domain, its installation namespace as the root namespace, DNS capture as discovered),
// with the Istio settings vmesh rendered for the cluster applied over it by Istio's own
// mesh config loader, as istiod would load them once the platform team installs them.
func meshConfig(m *Mesh, objects []Generated) (*meshconfig.MeshConfig, []string, error) {
	mc := mesh.DefaultMeshConfig()
	mc.TrustDomain = trustDomain(m)
	mc.RootNamespace = rootNamespace(m)
	if m.Istio.SmartDNSProxyingEnabled {
		if mc.DefaultConfig.ProxyMetadata == nil {
			mc.DefaultConfig.ProxyMetadata = map[string]string{}
		}
		mc.DefaultConfig.ProxyMetadata["ISTIO_META_DNS_CAPTURE"] = "true"
	}
	var applied []string
	for _, g := range objects {
		if g.Kind != "ConfigMap" || g.Annotations()["vmesh.dev/istio-settings"] != "istiod-helm-values" {
			continue
		}
		values, _ := g.Raw["data"].(map[string]any)["values.yaml"].(string)
		var parsed map[string]any
		if err := yaml.Unmarshal([]byte(values), &parsed); err != nil {
			return nil, nil, fmt.Errorf("%s: values.yaml: %v", g, err)
		}
		section, ok := parsed["meshConfig"]
		if !ok {
			continue
		}
		text, err := yaml.Marshal(section)
		if err != nil {
			return nil, nil, err
		}
		next, err := mesh.ApplyMeshConfig(string(text), mc)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: istiod refuses its meshConfig: %v", g, err)
		}
		mc = next
		applied = append(applied, g.String())
	}
	return mc, applied, nil
}

// istioConfigs are a cluster's rendered Istio objects that Istio's validation admits: an object
// the admission webhook rejects never reaches istiod (the validate step reports it).
func istioConfigs(objects []Generated) []config.Config {
	var out []config.Config
	for _, g := range objects {
		if !isIstioKind(g) {
			continue
		}
		cfg, s, err := istioConfig(g)
		if err != nil {
			continue
		}
		if _, err := s.ValidateConfig(*cfg); err != nil {
			continue
		}
		out = append(out, *cfg)
	}
	return out
}

func simulateTraffic(t *testing.T, in *Inputs, exp *Expectations, generated map[string][]Generated, report *Report) {
	w := &World{
		t: t, in: in, clusters: buildClusters(in, exp), report: report,
		servers: map[string]*xds.FakeDiscoveryServer{}, sims: map[string]*simulation.Simulation{},
		proxies: map[string]*model.Proxy{}, meshConfigs: map[string]*meshconfig.MeshConfig{},
	}
	names := make([]string, 0, len(w.clusters))
	for name := range w.clusters {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := w.clusters[name]
		mc, applied, err := meshConfig(c.Mesh, generated[name])
		if err != nil {
			report.fail(name, "settings", "istio settings", "%v", err)
			continue
		}
		for _, a := range applied {
			report.cluster(name).Settings = append(report.cluster(name).Settings, a)
		}
		w.meshConfigs[name] = mc
		w.servers[name] = xds.NewFakeDiscoveryServer(t, xds.FakeOptions{
			DefaultClusterName: clusterid.ID(name),
			KubernetesObjects:  c.Objects,
			Configs:            istioConfigs(generated[name]),
			MeshConfig:         mc,
		})
	}
	for _, call := range exp.Calls {
		w.federatedCall(call)
		w.noRelay(call, exp)
	}
	for _, neg := range exp.NotFederated {
		w.notFederated(neg)
	}
	for _, name := range names {
		w.plainCalls(w.clusters[name])
		w.localCalls(w.clusters[name])
	}
}

// proxy sets up (once) a proxy of a cluster and the simulation of its Envoy configuration.
func (w *World) proxy(clusterName, key string, p *model.Proxy) (*model.Proxy, *simulation.Simulation) {
	id := clusterName + "/" + key
	if sim, ok := w.sims[id]; ok {
		return w.proxies[id], sim
	}
	s := w.servers[clusterName]
	p.Metadata.ClusterID = clusterid.ID(clusterName)
	proxy := s.SetupProxy(p)
	sim := simulation.NewSimulation(w.t, s, proxy)
	w.proxies[id], w.sims[id] = proxy, sim
	return proxy, sim
}

func (w *World) clientProxy(clusterName string) (*model.Proxy, *simulation.Simulation) {
	labels := map[string]string{"app": "client"}
	return w.proxy(clusterName, "client", &model.Proxy{
		ID: "client." + clientNamespace, ConfigNamespace: clientNamespace, IPAddresses: []string{"10.250.0.1"},
		Labels: labels, Metadata: &model.NodeMetadata{Namespace: clientNamespace, Labels: labels, ServiceAccount: clientAccount},
	})
}

func (w *World) podProxy(clusterName string, pod Pod, kind model.NodeType) (*model.Proxy, *simulation.Simulation) {
	labels := map[string]string{}
	for k, v := range pod.Labels {
		labels[k] = v
	}
	return w.proxy(clusterName, pod.Namespace+"/"+pod.Name, &model.Proxy{
		Type: kind, ID: pod.Name + "." + pod.Namespace, ConfigNamespace: pod.Namespace,
		IPAddresses: []string{pod.IP}, Labels: labels,
		Metadata: &model.NodeMetadata{Namespace: pod.Namespace, Labels: labels, ServiceAccount: pod.ServiceAccount},
	})
}

// callProtocol is how an application speaks to a port, by Istio's own protocol selection.
func callProtocol(p ServicePort) (simulation.Protocol, simulation.TLSMode) {
	var appProtocol *string
	if p.AppProtocol != "" {
		ap := p.AppProtocol
		appProtocol = &ap
	}
	instance := kubeconv.ConvertProtocol(int32(p.Port), p.Name, kubeProtocol(p), appProtocol)
	switch {
	case instance.IsHTTP2() || instance.IsGRPC():
		return simulation.HTTP2, simulation.Plaintext
	case instance.IsHTTP():
		return simulation.HTTP, simulation.Plaintext
	case instance.IsTLS():
		return simulation.TCP, simulation.TLS
	}
	return simulation.TCP, simulation.Plaintext
}

func isHTTPPort(p ServicePort) bool {
	proto, appTLS := callProtocol(p)
	return appTLS == simulation.Plaintext && (proto == simulation.HTTP || proto == simulation.HTTP2)
}

func sniOf(h string, port uint32) string {
	return model.BuildDNSSrvSubsetKey(model.TrafficDirectionOutbound, "", host.Name(h), int(port))
}

func (w *World) federatedCall(call FederatedCall) {
	clientCluster := call.ClientMesh.Istio.Installation.Cluster
	servingCluster := call.Destination.KubeService.Ref.ClusterName
	proto, appTLS := callProtocol(call.Port)
	subject := fmt.Sprintf("%s:%d from %s", call.Host, call.Port.Port, clientCluster)
	summary := fmt.Sprintf("%s -> %s:%d (%s)", clientCluster, call.Host, call.Port.Port, proto)
	failures := len(w.report.Failures)
	defer func() {
		verdict := "ok"
		if len(w.report.Failures) > failures {
			verdict = "FAILED"
		}
		rc := w.report.cluster(clientCluster)
		rc.Calls = append(rc.Calls, summary+": "+verdict)
	}()
	if w.servers[clientCluster] == nil || w.servers[servingCluster] == nil {
		w.report.fail(clientCluster, "outbound", subject, "no Istio mesh of the inputs is installed in cluster %s", servingCluster)
		return
	}
	clientProxy, clientSim := w.clientProxy(clientCluster)

	address := w.resolve(call, clientCluster, clientProxy, subject)
	if address == "" {
		return
	}
	outbound := simulation.Call{
		Address: address, Port: int(call.Port.Port), Protocol: proto, TLS: appTLS,
		HostHeader: call.Host, CallMode: simulation.CallModeOutbound,
	}
	result := clientSim.Run(outbound)
	wantCluster := model.BuildSubsetKey(model.TrafficDirectionOutbound, "", host.Name(call.Host), int(call.Port.Port))
	if result.Error != nil {
		w.report.fail(clientCluster, "outbound", subject, "client sidecar: %v (listener %q, filter chain %q)",
			result.Error, result.ListenerMatched, result.FilterChainMatched)
		return
	}
	if result.ClusterMatched != wantCluster {
		w.report.fail(clientCluster, "outbound", subject, "client sidecar routes the call to cluster %q, not %q",
			result.ClusterMatched, wantCluster)
		return
	}
	envoyCluster := xdstest.ExtractCluster(wantCluster, clientSim.Clusters)
	sni := sniOf(call.Host, call.Port.Port)
	alpn := w.checkClientTLS(clientCluster, subject, envoyCluster, sni)
	w.checkServerIdentity(call, clientCluster, envoyCluster, subject)
	w.checkRemoteEndpoints(call, clientCluster, clientProxy, envoyCluster, subject)

	for _, gw := range call.Gateways {
		w.gatewayHop(call, gw, sni, alpn, subject)
	}
	w.servingHop(call, servingCluster, proto, subject)
}

// resolve is DNS capture: the address the client's agent answers for the host, from the name
// table Istio builds for that proxy.
func (w *World) resolve(call FederatedCall, clientCluster string, proxy *model.Proxy, subject string) string {
	table := dnsserver.BuildNameTable(dnsserver.Config{Node: proxy, Push: w.servers[clientCluster].PushContext()})
	info := table.GetTable()[call.Host]
	if !w.dnsCapture(clientCluster) {
		w.report.fail(clientCluster, "dns", subject,
			"DNS capture is off in mesh %s (neither its smartDnsProxyingEnabled nor rendered Istio settings set "+
				"ISTIO_META_DNS_CAPTURE): the name table istiod builds is never asked, and Kubernetes' DNS does not know %s",
			call.ClientMesh.Key, call.Host)
	}
	if info == nil || len(info.GetIps()) == 0 {
		w.report.fail(clientCluster, "dns", subject, "the DNS name table Istio builds for the client has no address for %s", call.Host)
		return ""
	}
	return info.GetIps()[0]
}

// tlsContext decodes a transport socket's TLS context; nil when there is none.
func tlsContext[T any, PT interface {
	*T
	proto.Message
}](ts *core.TransportSocket) *T {
	if ts == nil || ts.GetTypedConfig() == nil {
		return nil
	}
	ctx := PT(new(T))
	if err := ts.GetTypedConfig().UnmarshalTo(ctx); err != nil {
		return nil
	}
	return (*T)(ctx)
}

func upstreamTLS(ts *core.TransportSocket) *tls.UpstreamTlsContext {
	return tlsContext[tls.UpstreamTlsContext](ts)
}

// checkClientTLS: the outbound cluster must originate Istio mTLS with the SNI the east-west
// gateway's AUTO_PASSTHROUGH chains match, Istio's ALPN, and the workload's certificate.
func (w *World) checkClientTLS(clientCluster, subject string, c *cluster.Cluster, sni string) string {
	if c == nil {
		w.report.fail(clientCluster, "outbound", subject, "the client sidecar has no cluster for the call")
		return ""
	}
	ctx := upstreamTLS(c.GetTransportSocket())
	if ctx == nil {
		for _, m := range c.GetTransportSocketMatches() {
			if m.GetMatch().GetFields()["tlsMode"].GetStringValue() == "istio" {
				w.report.fail(clientCluster, "outbound", subject,
					"cluster %s uses auto mTLS, which sends plaintext to endpoints without the tlsMode: istio label "+
						"(the east-west gateway only passes Istio mTLS through)", c.GetName())
				return ""
			}
		}
		w.report.fail(clientCluster, "outbound", subject, "cluster %s sends plaintext: no TLS transport socket", c.GetName())
		return ""
	}
	if ctx.GetSni() != sni {
		w.report.fail(clientCluster, "outbound", subject, "cluster %s sends SNI %q; the east-west gateway routes on %q",
			c.GetName(), ctx.GetSni(), sni)
	}
	alpn := ctx.GetCommonTlsContext().GetAlpnProtocols()
	hasIstio := false
	for _, a := range alpn {
		if strings.HasPrefix(a, "istio") {
			hasIstio = true
		}
	}
	if !hasIstio {
		w.report.fail(clientCluster, "outbound", subject, "cluster %s sends ALPN %v, not Istio's", c.GetName(), alpn)
	}
	certs := ctx.GetCommonTlsContext().GetTlsCertificateSdsSecretConfigs()
	if len(certs) == 0 || certs[0].GetName() != "default" {
		w.report.fail(clientCluster, "outbound", subject, "cluster %s presents no workload certificate (SDS \"default\")", c.GetName())
	}
	if len(alpn) > 0 {
		return alpn[0]
	}
	return "istio"
}

// checkServerIdentity: the client must accept the certificate of every pod that serves the
// host (else its calls fail the handshake), and where the inputs' Workloads name the serving
// workloads' accounts it must check that identity, not only that the certificate chains to the
// shared root (any workload of any cluster of the VirtualMesh has such a certificate).
func (w *World) checkServerIdentity(call FederatedCall, clientCluster string, c *cluster.Cluster, subject string) {
	ctx := upstreamTLS(c.GetTransportSocket())
	if ctx == nil {
		return // checkClientTLS has said why
	}
	matchers := sanMatchers(ctx)
	servingCluster := call.Destination.KubeService.Ref.ClusterName
	td := trustDomain(call.ServingMesh)
	known := false
	for _, p := range w.clusters[servingCluster].Pods[call.Destination.Key] {
		id := fmt.Sprintf("spiffe://%s/ns/%s/sa/%s", td, p.Namespace, p.ServiceAccount)
		if len(matchers) > 0 && !anySANMatches(matchers, id) {
			w.report.fail(clientCluster, "identity", subject,
				"cluster %s accepts servers whose URI SAN matches %s; pod %s/%s of %s presents %s, so the TLS handshake fails",
				c.GetName(), describeMatchers(matchers), p.Namespace, p.Name, servingCluster, id)
		}
		known = known || p.AccountKnown
	}
	if known && len(matchers) == 0 {
		w.report.fail(clientCluster, "identity", subject,
			"cluster %s checks no server identity: any workload with a certificate from the shared root could answer for %s, "+
				"although the inputs' Workloads name the accounts that serve it", c.GetName(), call.Host)
	}
}

func endpointAddresses(cla *endpoint.ClusterLoadAssignment) []string {
	var out []string
	for _, locality := range cla.GetEndpoints() {
		for _, lb := range locality.GetLbEndpoints() {
			sa := lb.GetEndpoint().GetAddress().GetSocketAddress()
			if sa == nil {
				continue
			}
			out = append(out, fmt.Sprintf("%s:%d", sa.GetAddress(), sa.GetPortValue()))
		}
	}
	sort.Strings(out)
	return dedup(out)
}

func dedup(sorted []string) []string {
	var out []string
	for i, s := range sorted {
		if i == 0 || sorted[i-1] != s {
			out = append(out, s)
		}
	}
	return out
}

func (w *World) loadAssignment(clusterName string, proxy *model.Proxy, c *cluster.Cluster) *endpoint.ClusterLoadAssignment {
	if c != nil && c.GetType() != cluster.Cluster_EDS && c.GetLoadAssignment() != nil {
		return c.GetLoadAssignment()
	}
	for _, cla := range w.servers[clusterName].Endpoints(proxy) {
		if c != nil && cla.GetClusterName() == c.GetName() {
			return cla
		}
	}
	return nil
}

// checkRemoteEndpoints: the outbound cluster's endpoints are the serving cluster's east-west
// gateway addresses on the port remote clients dial.
func (w *World) checkRemoteEndpoints(call FederatedCall, clientCluster string, proxy *model.Proxy, c *cluster.Cluster, subject string) {
	if c == nil {
		return
	}
	var want []string
	for _, gw := range call.Gateways {
		for _, a := range gw.Addresses {
			want = append(want, fmt.Sprintf("%s:%d", a, gw.ExternalPort))
		}
	}
	sort.Strings(want)
	want = dedup(want)
	cla := w.loadAssignment(clientCluster, proxy, c)
	got := endpointAddresses(cla)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		w.report.fail(clientCluster, "outbound", subject, "cluster %s has endpoints %v; the east-west gateways of %s are %v",
			c.GetName(), got, call.ServingMesh.Key, want)
	}
}

// gatewayHop: the serving cluster's east-west gateway receives the mTLS connection on its pod
// port and must pass it through (AUTO_PASSTHROUGH, by SNI) to the Destination's backends.
func (w *World) gatewayHop(call FederatedCall, gw Gateway, sni, alpn, subject string) {
	servingCluster := call.Destination.KubeService.Ref.ClusterName
	pods := w.clusters[servingCluster].Pods[gw.Destination.Key]
	if len(pods) == 0 {
		w.report.fail(servingCluster, "gateway", subject, "gateway %s selects no pods", gw.Destination.Key)
		return
	}
	proxy, sim := w.podProxy(servingCluster, pods[0], model.Router)
	var chain *listener.FilterChain
	result := sim.Run(simulation.Call{
		Address: pods[0].IP, Port: int(gw.ContainerPort), Protocol: simulation.TCP, TLS: simulation.MTLS,
		Sni: sni, Alpn: alpn, CallMode: simulation.CallModeGateway,
		CustomListenerValidations: []simulation.CustomFilterChainValidation{func(fc *listener.FilterChain) error {
			chain = fc
			return nil
		}},
	})
	where := fmt.Sprintf("gateway %s (pod port %d)", gw.Destination.KubeService.Ref.Name, gw.ContainerPort)
	if result.Error != nil {
		w.report.fail(servingCluster, "gateway", subject, "%s: %v (listener %q, filter chain %q)",
			where, result.Error, result.ListenerMatched, result.FilterChainMatched)
		return
	}
	if result.ClusterMatched != sni {
		w.report.fail(servingCluster, "gateway", subject, "%s passes SNI %s to cluster %q, not %q",
			where, sni, result.ClusterMatched, sni)
		return
	}
	c := xdstest.ExtractCluster(sni, sim.Clusters)
	var want []string
	for _, p := range w.clusters[servingCluster].Pods[call.Destination.Key] {
		want = append(want, fmt.Sprintf("%s:%d", p.IP, call.TargetPort))
	}
	sort.Strings(want)
	got := endpointAddresses(w.loadAssignment(servingCluster, proxy, c))
	if strings.Join(got, ",") != strings.Join(want, ",") {
		w.report.fail(servingCluster, "gateway", subject, "%s sends %s to %v; the Destination's backends are %v",
			where, sni, got, want)
	}
	if chain != nil {
		filters, err := rbacFilters(chain)
		if err != nil {
			w.report.fail(servingCluster, "authz", subject, "%s: %v", where, err)
			return
		}
		allowed, why, err := allowedBy(filters, Request{Port: gw.ContainerPort}, false)
		if err != nil {
			w.report.fail(servingCluster, "authz", subject, "%s: %v", where, err)
		} else if !allowed {
			w.report.fail(servingCluster, "authz", subject, "%s denies the passed-through connection: %s", where, why)
		}
	}
}

func downstreamTLS(fc *listener.FilterChain) *tls.DownstreamTlsContext {
	return tlsContext[tls.DownstreamTlsContext](fc.GetTransportSocket())
}

// sanMatchers are the peer SAN matchers of a TLS context (a server's or a client's), typed or not: Istio writes the
// untyped match_subject_alt_names, which Envoy applies to every SAN of the peer certificate.
func sanMatchers(ctx interface{ GetCommonTlsContext() *tls.CommonTlsContext }) []*tls.SubjectAltNameMatcher {
	common := ctx.GetCommonTlsContext()
	validation := common.GetValidationContext()
	if combined := common.GetCombinedValidationContext(); combined != nil {
		validation = combined.GetDefaultValidationContext()
	}
	out := append([]*tls.SubjectAltNameMatcher(nil), validation.GetMatchTypedSubjectAltNames()...)
	for _, m := range validation.GetMatchSubjectAltNames() { //nolint:staticcheck // what Istio writes
		out = append(out, &tls.SubjectAltNameMatcher{SanType: tls.SubjectAltNameMatcher_URI, Matcher: m})
	}
	return out
}

func describeMatchers(ms []*tls.SubjectAltNameMatcher) string {
	var parts []string
	for _, m := range ms {
		parts = append(parts, strings.TrimSpace(m.GetMatcher().String()))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

// servingHop: the serving sidecar's inbound chain on the target port must accept the caller's
// certificate (its trust-domain validation) and authorize exactly the callers the inputs allow.
func (w *World) servingHop(call FederatedCall, servingCluster string, proto simulation.Protocol, subject string) {
	pods := w.clusters[servingCluster].Pods[call.Destination.Key]
	if len(pods) == 0 {
		w.report.fail(servingCluster, "inbound", subject, "destination %s has no backend pods", call.Destination.Key)
		return
	}
	_, sim := w.podProxy(servingCluster, pods[0], model.SidecarProxy)
	var chain *listener.FilterChain
	result := sim.Run(simulation.Call{
		Address: pods[0].IP, Port: int(call.TargetPort), Protocol: proto, TLS: simulation.MTLS,
		HostHeader: call.Host, CallMode: simulation.CallModeInbound,
		CustomListenerValidations: []simulation.CustomFilterChainValidation{func(fc *listener.FilterChain) error {
			chain = fc
			return nil
		}},
	})
	where := fmt.Sprintf("sidecar of %s/%s (port %d)", pods[0].Namespace, pods[0].Name, call.TargetPort)
	if result.Error != nil {
		w.report.fail(servingCluster, "inbound", subject, "%s: %v (filter chain %q)", where, result.Error, result.FilterChainMatched)
		return
	}
	if chain == nil {
		return
	}
	clientTD := trustDomain(call.ClientMesh)
	if ctx := downstreamTLS(chain); ctx != nil {
		matchers := sanMatchers(ctx)
		caller := fmt.Sprintf("spiffe://%s/ns/%s/sa/%s", clientTD, clientNamespace, clientAccount)
		if len(matchers) > 0 && !anySANMatches(matchers, caller) {
			w.report.fail(servingCluster, "inbound", subject,
				"%s accepts peer certificates whose URI SAN matches %s; the caller from %s presents %s, so the TLS handshake fails",
				where, describeMatchers(matchers), call.ClientMesh.Key, caller)
		}
	}
	filters, err := rbacFilters(chain)
	if err != nil {
		w.report.fail(servingCluster, "authz", subject, "%s: %v", where, err)
		return
	}
	http := proto == simulation.HTTP || proto == simulation.HTTP2
	for _, c := range call.Callers {
		principal := fmt.Sprintf("spiffe://%s/ns/%s/sa/%s", clientTD, c.Identity.Namespace, c.Identity.ServiceAccount)
		req := Request{Principal: principal, Port: call.TargetPort, Method: c.Method, Path: c.Path, Host: call.Host}
		allowed, why, err := allowedBy(filters, req, http)
		switch {
		case err != nil:
			w.report.fail(servingCluster, "authz", subject, "%s: %v", where, err)
		case allowed && !c.Allowed:
			w.report.fail(servingCluster, "authz", subject, "%s lets %s (%s %s) in, but %s", where, c.Identity, c.Method, c.Path, c.Why)
		case !allowed && c.Allowed:
			w.report.fail(servingCluster, "authz", subject, "%s denies %s (%s %s): %s; the inputs allow it (%s)",
				where, c.Identity, c.Method, c.Path, why, c.Why)
		}
	}
}

func anySANMatches(ms []*tls.SubjectAltNameMatcher, uri string) bool {
	for _, m := range ms {
		if m.GetSanType() != tls.SubjectAltNameMatcher_URI {
			continue
		}
		if ok, err := stringMatches(m.GetMatcher(), uri); err == nil && ok {
			return true
		}
	}
	return false
}

// noRelay: an east-west gateway of a cluster that does not serve a host must not pass its
// SNI through: it would relay anyone who reaches it into the serving cluster.
func (w *World) noRelay(call FederatedCall, exp *Expectations) {
	servingCluster := call.Destination.KubeService.Ref.ClusterName
	sni := sniOf(call.Host, call.Port.Port)
	meshes := make([]ObjectRef, 0, len(exp.Gateways))
	for ref := range exp.Gateways {
		meshes = append(meshes, ref)
	}
	sort.Slice(meshes, func(i, j int) bool { return lessRef(meshes[i], meshes[j]) })
	for _, ref := range meshes {
		mesh := w.in.Meshes[ref]
		other := mesh.Istio.Installation.Cluster
		if other == servingCluster || w.servers[other] == nil {
			continue
		}
		for _, gw := range exp.Gateways[ref] {
			pods := w.clusters[other].Pods[gw.Destination.Key]
			if len(pods) == 0 {
				continue
			}
			_, sim := w.podProxy(other, pods[0], model.Router)
			result := sim.Run(simulation.Call{
				Address: pods[0].IP, Port: int(gw.ContainerPort), Protocol: simulation.TCP, TLS: simulation.MTLS,
				Sni: sni, Alpn: "istio", CallMode: simulation.CallModeGateway,
			})
			if result.Error == nil && result.ClusterMatched == sni {
				w.report.fail(other, "relay", fmt.Sprintf("%s:%d", call.Host, call.Port.Port),
					"gateway %s passes SNI %s through to cluster %q, although %s serves it: anyone who reaches this gateway is relayed into %s",
					gw.Destination.KubeService.Ref.Name, sni, result.ClusterMatched, servingCluster, servingCluster)
			}
		}
	}
}

// notFederated: a Destination the inputs do not federate to a cluster has no outbound cluster
// there, and its host does not resolve.
func (w *World) notFederated(neg NegativeHost) {
	clientCluster := neg.ClientMesh.Istio.Installation.Cluster
	if w.servers[clientCluster] == nil {
		return
	}
	proxy, sim := w.clientProxy(clientCluster)
	subject := fmt.Sprintf("%s from %s", neg.Host, clientCluster)
	want := model.BuildSubsetKey(model.TrafficDirectionOutbound, "", host.Name(neg.Host), int(neg.Port))
	if xdstest.ExtractCluster(want, sim.Clusters) != nil {
		w.report.fail(clientCluster, "negative", subject, "cluster %s exists, but the inputs do not federate %s to mesh %s",
			want, neg.Destination.Key, neg.ClientMesh.Key)
	}
	table := dnsserver.BuildNameTable(dnsserver.Config{Node: proxy, Push: w.servers[clientCluster].PushContext()})
	if table.GetTable()[neg.Host] != nil {
		w.report.fail(clientCluster, "negative", subject, "%s resolves, but the inputs do not federate %s to mesh %s",
			neg.Host, neg.Destination.Key, neg.ClientMesh.Key)
	}
}

// plainCalls: an ordinary in-mesh Service on a port a federated host uses must still get its
// own calls, not a federated ServiceEntry's.
func (w *World) plainCalls(c *Cluster) {
	if c.PlainIP == "" || w.servers[c.Name] == nil {
		return
	}
	ports := make([]uint32, 0, len(c.PlainPorts))
	for p := range c.PlainPorts {
		ports = append(ports, p)
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i] < ports[j] })
	for _, number := range ports {
		w.inMeshCall(c, "capture", c.PlainIP, c.PlainHost, c.PlainPorts[number])
	}
}

// localCalls: an in-mesh call to each Service of the cluster, by its cluster-local name, must
// keep Istio's auto mTLS (Istio mTLS to endpoints labelled as having a sidecar, plaintext to the
// others). A DestinationRule that sets a TLS mode for the host applies it to every endpoint, so
// a pod of the Service without a sidecar, or a gateway port that expects plaintext, receives TLS
// it cannot read: such a call fails although the inputs never asked for it.
func (w *World) localCalls(c *Cluster) {
	if w.servers[c.Name] == nil {
		return
	}
	_, sim := w.clientProxy(c.Name)
	for _, svc := range c.Services {
		ks := svc.Destination.KubeService
		h := fmt.Sprintf("%s.%s.svc.cluster.local", ks.Ref.Name, ks.Ref.Namespace)
		for _, p := range ks.Ports {
			if strings.EqualFold(p.Protocol, "UDP") || strings.EqualFold(p.Protocol, "SCTP") {
				continue
			}
			want, ok := w.inMeshCall(c, "local", svc.IP, h, p)
			if !ok {
				continue
			}
			subject := fmt.Sprintf("%s:%d from %s", h, p.Port, c.Name)
			ec := xdstest.ExtractCluster(want, sim.Clusters)
			if upstreamTLS(ec.GetTransportSocket()) != nil {
				w.report.fail(c.Name, "local", subject,
					"cluster %s applies TLS to every endpoint (a DestinationRule's tls mode replaces Istio's auto mTLS): "+
						"a pod of %s without a sidecar, or a port that expects plaintext, receives TLS it cannot read",
					want, svc.Destination.Key)
			}
		}
	}
}

// inMeshCall: the cluster's client sidecar calls host:port at address (a Service's cluster IP)
// and must reach that Service's own outbound cluster; a failure is reported at step. It
// returns the cluster's name and whether the call got there.
func (w *World) inMeshCall(c *Cluster, step, address, h string, p ServicePort) (string, bool) {
	_, sim := w.clientProxy(c.Name)
	proto, appTLS := callProtocol(p)
	result := sim.Run(simulation.Call{
		Address: address, Port: int(p.Port), Protocol: proto, TLS: appTLS,
		HostHeader: h, CallMode: simulation.CallModeOutbound,
	})
	want := model.BuildSubsetKey(model.TrafficDirectionOutbound, "", host.Name(h), int(p.Port))
	subject := fmt.Sprintf("%s:%d from %s", h, p.Port, c.Name)
	switch {
	case result.Error != nil:
		w.report.fail(c.Name, step, subject, "an in-mesh call fails: %v", result.Error)
		return want, false
	case result.ClusterMatched != want:
		w.report.fail(c.Name, step, subject, "an in-mesh call to %s:%d is captured by cluster %q, not %q",
			address, p.Port, result.ClusterMatched, want)
		return want, false
	}
	return want, true
}
