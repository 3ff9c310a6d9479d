package conformance

// What the inputs mean, computed by the harness itself: which VirtualMesh governs which mesh,
// each mesh's east-west gateways, which Destination is federated to which mesh, and which callers
// may reach it. Every rule cites the part of Gloo Mesh's semantics (or vmesh's documented
// departure, docs/decisions.md) it follows.

import (
	"fmt"
	"sort"
	"strings"
)

// Gateway is one east-west gateway of a serving mesh, as a remote client dials it.
type Gateway struct {
	Destination *Destination
	Addresses   []string
	// ExternalPort is what remote clusters dial: the nodePort of a NodePort Service, the
	// Service port of a LoadBalancer.
	ExternalPort uint32
	// ServicePort is the gateway Service's port (a Gateway server names it).
	ServicePort uint32
	// ContainerPort is where the gateway pod listens.
	ContainerPort uint32
}

// Identity is a workload identity: cluster, namespace and service account.
type Identity struct {
	Cluster, Namespace, ServiceAccount string
}

func (i Identity) String() string {
	return fmt.Sprintf("%s/ns/%s/sa/%s", i.Cluster, i.Namespace, i.ServiceAccount)
}

// Caller is one client identity a simulated call is made from, and whether the inputs let it in.
type Caller struct {
	Identity Identity
	Allowed  bool
	Why      string
	Method   string
	Path     string
}

// FederatedCall is one (Destination, target cluster, port) the inputs federate.
type FederatedCall struct {
	VirtualMesh ObjectRef
	Destination *Destination
	ServingMesh *Mesh
	ClientMesh  *Mesh
	Host        string
	Port        ServicePort
	TargetPort  uint32
	Gateways    []Gateway
	Callers     []Caller
	// ServingIsGateway: the Destination is a gateway (its pods run a router, not a sidecar).
	ServingIsGateway bool
}

// Expectations are what the harness checks for one input.
type Expectations struct {
	Calls []FederatedCall
	// Gateways are the east-west gateways of each Istio mesh that has them.
	Gateways map[ObjectRef][]Gateway
	// NotFederated lists, per client cluster, federated hostnames that must not resolve there.
	NotFederated []NegativeHost
	Notes        []string
}

type NegativeHost struct {
	ClientMesh  *Mesh
	Destination *Destination
	Host        string
	Port        uint32
}

const defaultSuffix = "global"

// appliedVirtualMeshes assigns each Istio mesh the VirtualMesh that governs it: the oldest by
// creationTimestamp, ties and missing timestamps by namespace/name (docs/decisions.md D5).
func appliedVirtualMeshes(in *Inputs) map[ObjectRef]*VirtualMesh {
	vms := append([]*VirtualMesh(nil), in.VirtualMeshes...)
	sort.SliceStable(vms, func(i, j int) bool {
		a, b := vms[i], vms[j]
		if (a.Created != "") != (b.Created != "") {
			return a.Created != ""
		}
		if a.Created != b.Created {
			return a.Created < b.Created
		}
		return a.Key.String() < b.Key.String()
	})
	applied := map[ObjectRef]*VirtualMesh{}
	for _, vm := range vms {
		for _, ref := range vm.Meshes {
			if _, taken := applied[ref]; !taken {
				applied[ref] = vm
			}
		}
	}
	return applied
}

func (in *Inputs) destinationsOfMesh(mesh ObjectRef) []*Destination {
	var out []*Destination
	for _, d := range in.Destinations {
		if d.Mesh == mesh && d.KubeService != nil {
			out = append(out, d)
		}
	}
	return out
}

// gatewayPorts resolves a gateway Destination's port by name (semantics §2.2, entry
// construction); ok is false when either port is zero.
func gatewayPorts(d *Destination, portName string) (Gateway, bool) {
	svc := d.KubeService
	for _, p := range svc.Ports {
		if p.Name != portName {
			continue
		}
		gw := Gateway{Destination: d, ServicePort: p.Port, ContainerPort: p.TargetPortNumber}
		if p.TargetPortName != "" {
			gw.ContainerPort = endpointPortByName(svc, p.TargetPortName)
		}
		switch svc.ServiceType {
		case "NODE_PORT":
			gw.ExternalPort = p.NodePort
		case "LOAD_BALANCER":
			gw.ExternalPort = p.Port
		}
		for _, a := range svc.ExternalAddresses {
			if a.DNSName != "" {
				gw.Addresses = append(gw.Addresses, a.DNSName)
			} else if a.IP != "" {
				gw.Addresses = append(gw.Addresses, a.IP)
			}
		}
		return gw, gw.ExternalPort != 0 && gw.ContainerPort != 0
	}
	return Gateway{}, false
}

func endpointPortByName(svc *KubeService, name string) uint32 {
	for _, s := range svc.EndpointSubsets {
		for _, p := range s.Ports {
			if p.Name == name {
				return p.Port
			}
		}
	}
	return 0
}

// eastWestGateways follows semantics §2.2: selectors, then the deprecated ingressGateways, then
// the first Destination labelled istio=ingressgateway with a `tls` port.
func eastWestGateways(in *Inputs, vm *VirtualMesh, mesh *Mesh) ([]Gateway, error) {
	var out []Gateway
	for _, d := range in.destinationsOfMesh(mesh.Key) {
		for _, sel := range vm.Federation.EastWestIngressGatewaySelectors {
			if !selectorMatches(sel.DestinationSelectors, d) {
				continue
			}
			portName := sel.PortName
			if portName == "" {
				portName = "tls"
			}
			gw, ok := gatewayPorts(d, portName)
			if !ok || len(d.KubeService.WorkloadSelectorLabels) == 0 {
				return nil, fmt.Errorf("gateway %s has no usable %q port or no selector labels", d.Key, portName)
			}
			out = append(out, gw)
			break
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	for _, info := range mesh.Istio.IngressGateways {
		for _, d := range in.destinationsOfMesh(mesh.Key) {
			r := d.KubeService.Ref
			if r.Name != info.Name || r.Namespace != info.Namespace || r.ClusterName != mesh.Istio.Installation.Cluster {
				continue
			}
			gw := Gateway{Destination: d, ExternalPort: info.ExternalTLSPort, ContainerPort: info.TLSContainerPort}
			for _, p := range d.KubeService.Ports {
				if p.TargetPortNumber == info.TLSContainerPort {
					gw.ServicePort = p.Port
				}
			}
			for _, a := range d.KubeService.ExternalAddresses {
				if a.DNSName != "" {
					gw.Addresses = append(gw.Addresses, a.DNSName)
				} else if a.IP != "" {
					gw.Addresses = append(gw.Addresses, a.IP)
				}
			}
			out = append(out, gw)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	for _, d := range in.destinationsOfMesh(mesh.Key) {
		if d.KubeService.WorkloadSelectorLabels["istio"] == "ingressgateway" {
			gw, ok := gatewayPorts(d, "tls")
			if !ok {
				return nil, fmt.Errorf("gateway %s has no usable tls port", d.Key)
			}
			return []Gateway{gw}, nil
		}
	}
	return nil, nil
}

// federatedTo follows semantics §2.3: the meshes a Destination is federated to, its own excluded.
func federatedTo(vm *VirtualMesh, d *Destination) []ObjectRef {
	set := map[ObjectRef]bool{}
	if len(vm.Federation.Selectors) == 0 && vm.Federation.Permissive != nil {
		for _, m := range vm.Meshes {
			set[m] = true
		}
	}
	for _, sel := range vm.Federation.Selectors {
		if !federationSelectorMatches(sel.DestinationSelectors, d) {
			continue
		}
		if len(sel.Meshes) == 0 {
			for _, m := range vm.Meshes {
				set[m] = true
			}
			break
		}
		for _, m := range sel.Meshes {
			set[m] = true
		}
	}
	delete(set, d.Mesh)
	out := make([]ObjectRef, 0, len(set))
	for m := range set {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return lessRef(out[i], out[j]) })
	return out
}

// federationSelectorMatches: an empty list of destination selectors in a federation selector
// (`selectors: [{}]`) selects every Destination (the API's "federate everything").
func federationSelectorMatches(selectors []DestinationSelector, d *Destination) bool {
	return selectorMatches(selectors, d)
}

func federatedHost(d *Destination, vm *VirtualMesh) string {
	suffix := vm.Federation.HostnameSuffix
	if suffix == "" {
		suffix = defaultSuffix
	}
	r := d.KubeService.Ref
	return fmt.Sprintf("%s.%s.svc.%s.%s", r.Name, r.Namespace, r.ClusterName, suffix)
}

// targetPort is the backend pod port of a Service port: its number, or a named container port
// resolved through the endpoint ports. Kubernetes names endpoint ports after the Service port,
// so that name is looked up first; inputs written by Gloo Mesh's discovery may name them after
// the container port instead, which is looked up next.
func targetPort(svc *KubeService, p ServicePort) uint32 {
	if p.TargetPortNumber != 0 {
		return p.TargetPortNumber
	}
	if p.TargetPortName == "" {
		return p.Port
	}
	for _, name := range []string{p.Name, p.TargetPortName} {
		for _, s := range svc.EndpointSubsets {
			for _, ep := range s.Ports {
				if ep.Name == name && ep.Port != 0 {
					return ep.Port
				}
			}
		}
	}
	return p.Port
}

func computeExpectations(in *Inputs) *Expectations {
	exp := &Expectations{Gateways: map[ObjectRef][]Gateway{}}
	applied := appliedVirtualMeshes(in)
	gateways := exp.Gateways
	for ref, vm := range applied {
		mesh := in.Meshes[ref]
		if mesh == nil || mesh.Istio == nil {
			continue
		}
		gws, err := eastWestGateways(in, vm, mesh)
		if err != nil {
			exp.Notes = append(exp.Notes, fmt.Sprintf("mesh %s: %v", ref, err))
			continue
		}
		gateways[ref] = gws
	}
	for _, d := range in.Destinations {
		if d.KubeService == nil {
			continue
		}
		vm := applied[d.Mesh]
		serving := in.Meshes[d.Mesh]
		if vm == nil || serving == nil || serving.Istio == nil {
			continue
		}
		if isGateway(d, gateways[d.Mesh]) {
			// Calling a gateway through another gateway is no application's traffic: the
			// harness checks the calls gateways carry, not calls to them.
			exp.Notes = append(exp.Notes, fmt.Sprintf("destination %s is a gateway: no call to it is simulated", d.Key))
			continue
		}
		targets := federatedTo(vm, d)
		targetSet := map[ObjectRef]bool{}
		for _, t := range targets {
			targetSet[t] = true
		}
		for _, t := range targets {
			client := in.Meshes[t]
			if client == nil || client.Istio == nil || applied[t] == nil {
				continue
			}
			if len(gateways[d.Mesh]) == 0 {
				exp.Notes = append(exp.Notes, fmt.Sprintf("destination %s: mesh %s has no east-west gateway", d.Key, d.Mesh))
				break
			}
			if len(d.KubeService.WorkloadSelectorLabels) == 0 {
				exp.Notes = append(exp.Notes, fmt.Sprintf("destination %s has no workload selector labels: no backends to call", d.Key))
				break
			}
			if in.PodEndpoints && !hasEndpoints(d) {
				// With pod endpoints a Destination that lists none has nothing to route to in
				// any cluster: the host must not resolve anywhere rather than resolve to nothing.
				exp.Notes = append(exp.Notes, fmt.Sprintf("destination %s lists no endpoints and federation copies pods: nothing to call", d.Key))
				for _, t := range targets {
					if client := in.Meshes[t]; client != nil && client.Istio != nil && len(d.KubeService.Ports) > 0 {
						exp.NotFederated = append(exp.NotFederated, NegativeHost{
							ClientMesh: client, Destination: d, Host: federatedHost(d, vm), Port: d.KubeService.Ports[0].Port,
						})
					}
				}
				break
			}
			for _, p := range d.KubeService.Ports {
				if strings.EqualFold(p.Protocol, "UDP") {
					// Sidecars do not proxy UDP (only DNS, which capture answers itself).
					exp.Notes = append(exp.Notes, fmt.Sprintf("destination %s port %d is UDP: not simulated", d.Key, p.Port))
					continue
				}
				exp.Calls = append(exp.Calls, FederatedCall{
					VirtualMesh: vm.Key,
					Destination: d,
					ServingMesh: serving,
					ClientMesh:  client,
					Host:        federatedHost(d, vm),
					Port:        p,
					TargetPort:  targetPort(d.KubeService, p),
					Gateways:    gateways[d.Mesh],
					Callers:     callers(in, vm, d, client, p),
				})
			}
		}
		for ref, mesh := range in.Meshes {
			if mesh.Istio == nil || ref == d.Mesh || targetSet[ref] || len(d.KubeService.Ports) == 0 {
				continue
			}
			if mesh.Istio.Installation.Cluster == d.KubeService.Ref.ClusterName {
				continue
			}
			exp.NotFederated = append(exp.NotFederated, NegativeHost{
				ClientMesh: mesh, Destination: d, Host: federatedHost(d, vm), Port: d.KubeService.Ports[0].Port,
			})
		}
	}
	sort.SliceStable(exp.NotFederated, func(i, j int) bool {
		a, b := exp.NotFederated[i], exp.NotFederated[j]
		return a.ClientMesh.Key.String()+a.Host < b.ClientMesh.Key.String()+b.Host
	})
	return exp
}

func hasEndpoints(d *Destination) bool {
	for _, subset := range d.KubeService.EndpointSubsets {
		if len(subset.Endpoints) > 0 {
			return true
		}
	}
	return false
}

// isGateway: the Destination is one of its mesh's east-west gateways, or its pods carry the
// label Istio's gateway charts give a gateway (`istio: …gateway`).
func isGateway(d *Destination, gateways []Gateway) bool {
	for _, gw := range gateways {
		if gw.Destination == d {
			return true
		}
	}
	return strings.HasSuffix(d.KubeService.WorkloadSelectorLabels["istio"], "gateway")
}

// The default client of a simulated call, and an identity no input names.
const (
	clientNamespace   = "vmesh-conformance-client"
	clientAccount     = "client"
	intruderNamespace = "vmesh-conformance-intruder"
	intruderAccount   = "intruder"
)

// callers lists who calls a federated Destination from the client mesh's cluster and whether
// the inputs let each in: with no AccessPolicy selecting the Destination, everyone unless the
// VirtualMesh enables global access control (deny by default); with AccessPolicies, exactly
// their sources (semantics §3.7.3), where a service account ref or identity matcher that names
// a cluster means that cluster's workloads only.
func callers(in *Inputs, vm *VirtualMesh, d *Destination, client *Mesh, p ServicePort) []Caller {
	cluster := client.Istio.Installation.Cluster
	var policies []*AccessPolicy
	for _, ap := range in.AccessPolicies {
		if selectorMatches(ap.DestinationSelector, d) {
			policies = append(policies, ap)
		}
	}
	candidates := []Identity{
		{cluster, clientNamespace, clientAccount},
		{cluster, intruderNamespace, intruderAccount},
	}
	for _, ap := range policies {
		for _, src := range ap.SourceSelector {
			if refs := src.KubeServiceAccountRefs; refs != nil {
				for _, sa := range refs.ServiceAccounts {
					// The same namespace and account in the client cluster: allowed only when the
					// ref names no cluster or this one.
					candidates = append(candidates, Identity{cluster, sa.Namespace, sa.Name})
				}
			}
			if m := src.KubeIdentityMatcher; m != nil {
				for _, ns := range m.Namespaces {
					candidates = append(candidates, Identity{cluster, ns, clientAccount})
				}
			}
		}
	}
	seen := map[Identity]bool{}
	var out []Caller
	for _, id := range candidates {
		if seen[id] || id.Namespace == "" || id.ServiceAccount == "" {
			continue
		}
		seen[id] = true
		out = append(out, judgeCaller(vm, policies, id, p, isHTTPPort(p)))
	}
	return out
}

func judgeCaller(vm *VirtualMesh, policies []*AccessPolicy, id Identity, p ServicePort, http bool) Caller {
	c := Caller{Identity: id, Method: "GET", Path: "/"}
	if len(policies) == 0 {
		c.Allowed = vm.GlobalAccessPolicy != "ENABLED"
		if c.Allowed {
			c.Why = "no AccessPolicy selects the Destination and global access control is off"
		} else {
			c.Why = "global access control is ENABLED and no AccessPolicy selects the Destination"
		}
		return c
	}
	for _, ap := range policies {
		if !sourceMatches(ap.SourceSelector, id) {
			continue
		}
		if len(ap.AllowedPorts) > 0 && !containsPort(ap.AllowedPorts, p.Port) {
			continue
		}
		// Paths and methods are properties of HTTP requests: a TCP connection has neither, so
		// a policy that restricts them cannot admit it.
		if !http && (len(ap.AllowedPaths) > 0 || len(ap.AllowedMethods) > 0) {
			continue
		}
		if len(ap.AllowedMethods) > 0 {
			c.Method = ap.AllowedMethods[0]
		}
		if len(ap.AllowedPaths) > 0 {
			c.Path = examplePath(ap.AllowedPaths[0])
		}
		c.Allowed = true
		c.Why = "allowed by AccessPolicy " + ap.Key.String()
		return c
	}
	c.Why = "no AccessPolicy selecting the Destination allows this source"
	return c
}

func containsPort(ports []uint32, port uint32) bool {
	for _, p := range ports {
		if p == port {
			return true
		}
	}
	return false
}

// examplePath turns an Istio path pattern into a path it matches.
func examplePath(pattern string) string {
	switch {
	case pattern == "*":
		return "/"
	case strings.HasSuffix(pattern, "*"):
		return strings.TrimSuffix(pattern, "*") + "x"
	case strings.HasPrefix(pattern, "*"):
		return "/x" + strings.TrimPrefix(pattern, "*")
	}
	return pattern
}

func sourceMatches(sources []IdentitySelector, id Identity) bool {
	if len(sources) == 0 {
		return true
	}
	for _, s := range sources {
		if s.KubeIdentityMatcher == nil && s.KubeServiceAccountRefs == nil {
			return true
		}
		if m := s.KubeIdentityMatcher; m != nil {
			if (len(m.Namespaces) == 0 || containsString(m.Namespaces, id.Namespace)) &&
				(len(m.Clusters) == 0 || containsString(m.Clusters, id.Cluster)) {
				return true
			}
		}
		if refs := s.KubeServiceAccountRefs; refs != nil {
			for _, sa := range refs.ServiceAccounts {
				if sa.Name == id.ServiceAccount && sa.Namespace == id.Namespace &&
					(sa.ClusterName == "" || sa.ClusterName == id.Cluster) {
					return true
				}
			}
		}
	}
	return false
}
