package conformance

// The harness's own reading of vmesh's inputs. It is written from the Gloo Mesh API reference,
// not from vmesh's code, so that what the harness expects (which Destinations are federated to
// which meshes, through which gateways, and who may call them) is an independent opinion: a
// federated call vmesh forgot to render is a failed call, never a skipped one.

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

type ObjectRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

func (r ObjectRef) String() string { return r.Namespace + "/" + r.Name }

type ClusterObjectRef struct {
	Name        string `json:"name"`
	Namespace   string `json:"namespace"`
	ClusterName string `json:"clusterName"`
}

type Metadata struct {
	Name              string            `json:"name"`
	Namespace         string            `json:"namespace"`
	CreationTimestamp string            `json:"creationTimestamp"`
	Labels            map[string]string `json:"labels"`
	Annotations       map[string]string `json:"annotations"`
}

type Item struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Metadata   Metadata        `json:"metadata"`
	Spec       json.RawMessage `json:"spec"`
	Data       json.RawMessage `json:"data"`
	Raw        map[string]any  `json:"-"`
}

type ResourceList struct {
	Kind           string           `json:"kind"`
	Items          []map[string]any `json:"items"`
	Results        []Result         `json:"results"`
	FunctionConfig map[string]any   `json:"functionConfig"`
}

// podEndpoints: the functionConfig asks for Gloo Mesh's pod endpoints (`endpoints: pods`, in a
// VirtualMeshRenderer's spec or a ConfigMap's data), which copy the endpoints discovery saw.
func (l *ResourceList) podEndpoints() bool {
	for _, section := range []string{"spec", "data"} {
		if fields, ok := l.FunctionConfig[section].(map[string]any); ok && fields["endpoints"] == "pods" {
			return true
		}
	}
	return false
}

type Result struct {
	Message  string `json:"message"`
	Severity string `json:"severity"`
}

type IngressGatewayInfo struct {
	Name             string            `json:"name"`
	Namespace        string            `json:"namespace"`
	WorkloadLabels   map[string]string `json:"workloadLabels"`
	ExternalAddress  string            `json:"externalAddress"`
	DNSName          string            `json:"dnsName"`
	IP               string            `json:"ip"`
	ExternalTLSPort  uint32            `json:"externalTlsPort"`
	TLSContainerPort uint32            `json:"tlsContainerPort"`
}

type IstioMesh struct {
	Installation struct {
		Namespace string `json:"namespace"`
		Cluster   string `json:"cluster"`
	} `json:"installation"`
	TrustDomain             string               `json:"trustDomain"`
	IstiodServiceAccount    string               `json:"istiodServiceAccount"`
	IngressGateways         []IngressGatewayInfo `json:"ingressGateways"`
	SmartDNSProxyingEnabled bool                 `json:"smartDnsProxyingEnabled"`
}

type Mesh struct {
	Key   ObjectRef
	Istio *IstioMesh `json:"istio"`
}

type ServicePort struct {
	Port             uint32 `json:"port"`
	Name             string `json:"name"`
	Protocol         string `json:"protocol"`
	AppProtocol      string `json:"appProtocol"`
	TargetPortName   string `json:"targetPortName"`
	TargetPortNumber uint32 `json:"targetPortNumber"`
	NodePort         uint32 `json:"nodePort"`
}

type Endpoint struct {
	IPAddress string            `json:"ipAddress"`
	Labels    map[string]string `json:"labels"`
}

type EndpointPort struct {
	Port     uint32 `json:"port"`
	Name     string `json:"name"`
	Protocol string `json:"protocol"`
}

type EndpointSubset struct {
	Endpoints []Endpoint     `json:"endpoints"`
	Ports     []EndpointPort `json:"ports"`
}

type ExternalAddress struct {
	DNSName string `json:"dnsName"`
	IP      string `json:"ip"`
}

type KubeService struct {
	Ref                    ClusterObjectRef  `json:"ref"`
	WorkloadSelectorLabels map[string]string `json:"workloadSelectorLabels"`
	Labels                 map[string]string `json:"labels"`
	Ports                  []ServicePort     `json:"ports"`
	EndpointSubsets        []EndpointSubset  `json:"endpointSubsets"`
	ExternalAddresses      []ExternalAddress `json:"externalAddresses"`
	ServiceType            string            `json:"serviceType"`
}

type Destination struct {
	Key         ObjectRef
	Mesh        ObjectRef    `json:"mesh"`
	KubeService *KubeService `json:"kubeService"`
}

type KubeServiceMatcher struct {
	Labels     map[string]string `json:"labels"`
	Namespaces []string          `json:"namespaces"`
	Clusters   []string          `json:"clusters"`
}

type DestinationSelector struct {
	KubeServiceMatcher *KubeServiceMatcher `json:"kubeServiceMatcher"`
	KubeServiceRefs    *struct {
		Services []ClusterObjectRef `json:"services"`
	} `json:"kubeServiceRefs"`
}

type FederationSelector struct {
	DestinationSelectors []DestinationSelector `json:"destinationSelectors"`
	Meshes               []ObjectRef           `json:"meshes"`
}

type IngressGatewaySelector struct {
	DestinationSelectors []DestinationSelector `json:"destinationSelectors"`
	PortName             string                `json:"portName"`
}

type VirtualMesh struct {
	Key        ObjectRef
	Created    string
	Meshes     []ObjectRef `json:"meshes"`
	Federation struct {
		Selectors                       []FederationSelector     `json:"selectors"`
		Permissive                      *struct{}                `json:"permissive"`
		EastWestIngressGatewaySelectors []IngressGatewaySelector `json:"eastWestIngressGatewaySelectors"`
		HostnameSuffix                  string                   `json:"hostnameSuffix"`
	} `json:"federation"`
	GlobalAccessPolicy string `json:"globalAccessPolicy"`
}

type IdentitySelector struct {
	KubeIdentityMatcher *struct {
		Namespaces []string `json:"namespaces"`
		Clusters   []string `json:"clusters"`
	} `json:"kubeIdentityMatcher"`
	KubeServiceAccountRefs *struct {
		ServiceAccounts []ClusterObjectRef `json:"serviceAccounts"`
	} `json:"kubeServiceAccountRefs"`
}

type AccessPolicy struct {
	Key                 ObjectRef
	SourceSelector      []IdentitySelector    `json:"sourceSelector"`
	DestinationSelector []DestinationSelector `json:"destinationSelector"`
	AllowedPaths        []string              `json:"allowedPaths"`
	AllowedMethods      []string              `json:"allowedMethods"`
	AllowedPorts        []uint32              `json:"allowedPorts"`
}

type Workload struct {
	Key        ObjectRef
	Mesh       ObjectRef           `json:"mesh"`
	Kubernetes *KubernetesWorkload `json:"kubernetes"`
}

// KubernetesWorkload is a Workload's Kubernetes controller, the labels of its pods and their
// service account.
type KubernetesWorkload struct {
	Controller         ClusterObjectRef  `json:"controller"`
	PodLabels          map[string]string `json:"podLabels"`
	ServiceAccountName string            `json:"serviceAccountName"`
}

// Inputs are the Gloo Mesh resources of one vmesh input, keyed by namespace/name.
type Inputs struct {
	Meshes         map[ObjectRef]*Mesh
	Destinations   []*Destination
	VirtualMeshes  []*VirtualMesh
	AccessPolicies []*AccessPolicy
	Workloads      []*Workload
	// PodEndpoints: federated endpoints are the pods discovery saw (see podEndpoints).
	PodEndpoints bool
}

func itemOf(raw map[string]any) (Item, error) {
	var item Item
	bytes, err := json.Marshal(raw)
	if err != nil {
		return item, err
	}
	if err := json.Unmarshal(bytes, &item); err != nil {
		return item, err
	}
	item.Raw = raw
	return item, nil
}

func decodeSpec(item Item, into any) error {
	if len(item.Spec) == 0 {
		return nil
	}
	if err := json.Unmarshal(item.Spec, into); err != nil {
		return fmt.Errorf("%s %s/%s: %v", item.Kind, item.Metadata.Namespace, item.Metadata.Name, err)
	}
	return nil
}

func readResourceList(text []byte) (*ResourceList, error) {
	var list ResourceList
	if err := yaml.Unmarshal(text, &list); err != nil {
		return nil, fmt.Errorf("not a ResourceList: %v", err)
	}
	return &list, nil
}

// readInputs types the Gloo Mesh resources of a ResourceList; everything else is ignored.
func readInputs(list *ResourceList) (*Inputs, error) {
	in := &Inputs{Meshes: map[ObjectRef]*Mesh{}, PodEndpoints: list.podEndpoints()}
	for _, raw := range list.Items {
		item, err := itemOf(raw)
		if err != nil {
			return nil, err
		}
		key := ObjectRef{Name: item.Metadata.Name, Namespace: item.Metadata.Namespace}
		group := strings.SplitN(item.APIVersion, "/", 2)[0]
		switch {
		case group == "discovery.mesh.gloo.solo.io" && item.Kind == "Mesh":
			mesh := &Mesh{Key: key}
			if err := decodeSpec(item, mesh); err != nil {
				return nil, err
			}
			in.Meshes[key] = mesh
		case group == "discovery.mesh.gloo.solo.io" && item.Kind == "Destination":
			dest := &Destination{Key: key}
			if err := decodeSpec(item, dest); err != nil {
				return nil, err
			}
			in.Destinations = append(in.Destinations, dest)
		case group == "discovery.mesh.gloo.solo.io" && item.Kind == "Workload":
			w := &Workload{Key: key}
			if err := decodeSpec(item, w); err != nil {
				return nil, err
			}
			in.Workloads = append(in.Workloads, w)
		case group == "networking.mesh.gloo.solo.io" && item.Kind == "VirtualMesh":
			vm := &VirtualMesh{Key: key, Created: item.Metadata.CreationTimestamp}
			if err := decodeSpec(item, vm); err != nil {
				return nil, err
			}
			in.VirtualMeshes = append(in.VirtualMeshes, vm)
		case group == "networking.mesh.gloo.solo.io" && item.Kind == "AccessPolicy":
			ap := &AccessPolicy{Key: key}
			if err := decodeSpec(item, ap); err != nil {
				return nil, err
			}
			in.AccessPolicies = append(in.AccessPolicies, ap)
		}
	}
	sort.Slice(in.Destinations, func(i, j int) bool { return lessRef(in.Destinations[i].Key, in.Destinations[j].Key) })
	sort.Slice(in.VirtualMeshes, func(i, j int) bool { return lessRef(in.VirtualMeshes[i].Key, in.VirtualMeshes[j].Key) })
	sort.Slice(in.AccessPolicies, func(i, j int) bool { return lessRef(in.AccessPolicies[i].Key, in.AccessPolicies[j].Key) })
	return in, nil
}

// lessRef orders refs as Gloo Mesh's keys `name.namespace.` sort.
func lessRef(a, b ObjectRef) bool {
	return a.Name+"."+a.Namespace+"." < b.Name+"."+b.Namespace+"."
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// selectorMatches is Gloo Mesh's SelectorMatchesDestination: an empty list matches every
// kubeService Destination; a selector matches by its matcher or by an exact service ref.
func selectorMatches(selectors []DestinationSelector, d *Destination) bool {
	svc := d.KubeService
	if svc == nil {
		return false
	}
	if len(selectors) == 0 {
		return true
	}
	for _, s := range selectors {
		if m := s.KubeServiceMatcher; m != nil {
			ok := len(m.Namespaces) == 0 || containsString(m.Namespaces, svc.Ref.Namespace)
			ok = ok && (len(m.Clusters) == 0 || containsString(m.Clusters, svc.Ref.ClusterName))
			for k, v := range m.Labels {
				if svc.Labels[k] != v {
					ok = false
				}
			}
			if ok {
				return true
			}
		}
		if r := s.KubeServiceRefs; r != nil {
			for _, ref := range r.Services {
				if ref == svc.Ref {
					return true
				}
			}
		}
	}
	return false
}

// trustDomains maps each cluster to the trust domain of the Istio mesh installed there.
func (in *Inputs) trustDomains() map[string]string {
	out := map[string]string{}
	for _, m := range in.Meshes {
		if m.Istio != nil && m.Istio.Installation.Cluster != "" {
			out[m.Istio.Installation.Cluster] = m.Istio.TrustDomain
		}
	}
	return out
}
