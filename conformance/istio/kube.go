package conformance

// The Kubernetes objects of each cluster, as the inputs describe it: namespaces, a Service per
// Destination with its ports, pods with the workload labels, service accounts and sidecars, and
// the EndpointSlices Kubernetes would keep for them. Istio's fake discovery server reads these
// exactly as istiod reads a real cluster.

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Pod is one backend (or gateway) pod the harness places in a cluster.
type Pod struct {
	Name           string
	Namespace      string
	IP             string
	Labels         map[string]string
	ServiceAccount string
	// AccountKnown: a Workload of the inputs names the account (otherwise it is `default`).
	AccountKnown bool
}

// Cluster is one workload cluster: its mesh, its objects, and where each Destination's pods are.
type Cluster struct {
	Name      string
	Mesh      *Mesh
	Objects   []runtime.Object
	Pods      map[ObjectRef][]Pod
	PlainHost string
	PlainIP   string
	// PlainPorts are the Service ports of the plain in-mesh Service used by the capture check.
	PlainPorts map[uint32]ServicePort
	// Services are the cluster's Destinations' Services, in input order, with their cluster IPs.
	Services []LocalService
}

// LocalService is a Destination's Service as the cluster's own workloads call it.
type LocalService struct {
	Destination *Destination
	IP          string
}

const plainNamespace = "vmesh-conformance-plain"

// addressBook hands out distinct, deterministic addresses per cluster.
type addressBook struct {
	service, pod int
}

func (a *addressBook) nextServiceIP() string {
	a.service++
	return fmt.Sprintf("10.96.%d.%d", a.service/250, a.service%250+1)
}

func (a *addressBook) nextPodIP() string {
	a.pod++
	return fmt.Sprintf("10.244.%d.%d", a.pod/250, a.pod%250+1)
}

func buildClusters(in *Inputs, exp *Expectations) map[string]*Cluster {
	clusters := map[string]*Cluster{}
	meshKeys := make([]ObjectRef, 0, len(in.Meshes))
	for k := range in.Meshes {
		meshKeys = append(meshKeys, k)
	}
	sort.Slice(meshKeys, func(i, j int) bool { return lessRef(meshKeys[i], meshKeys[j]) })
	for _, k := range meshKeys {
		m := in.Meshes[k]
		if m.Istio == nil || m.Istio.Installation.Cluster == "" {
			continue
		}
		name := m.Istio.Installation.Cluster
		if _, ok := clusters[name]; !ok {
			clusters[name] = &Cluster{Name: name, Mesh: m, Pods: map[ObjectRef][]Pod{}, PlainPorts: map[uint32]ServicePort{}}
		}
	}
	for name, c := range clusters {
		book := &addressBook{}
		namespaces := map[string]bool{
			c.Mesh.Istio.Installation.Namespace: true,
			clientNamespace:                     true,
			intruderNamespace:                   true,
			plainNamespace:                      true,
		}
		for _, d := range in.Destinations {
			if d.KubeService == nil || d.KubeService.Ref.ClusterName != name {
				continue
			}
			namespaces[d.KubeService.Ref.Namespace] = true
			ip := book.nextServiceIP()
			c.Objects = append(c.Objects, service(d.KubeService, ip))
			c.Services = append(c.Services, LocalService{Destination: d, IP: ip})
			pods := backendPods(in, d, book)
			c.Pods[d.Key] = pods
			for _, p := range pods {
				c.Objects = append(c.Objects, pod(p, d.KubeService))
			}
			if len(pods) > 0 {
				c.Objects = append(c.Objects, endpointSlice(d.KubeService, pods))
			}
		}
		for _, call := range exp.Calls {
			if call.ClientMesh.Istio.Installation.Cluster == name {
				c.PlainPorts[call.Port.Port] = call.Port
			}
		}
		if len(c.PlainPorts) > 0 {
			c.PlainIP = book.nextServiceIP()
			// Istio's fake discovery server registers Services under cluster.local whatever the
			// inputs' cluster domain.
			c.PlainHost = fmt.Sprintf("plain.%s.svc.cluster.local", plainNamespace)
			c.Objects = append(c.Objects, plainService(c))
		}
		nsNames := make([]string, 0, len(namespaces))
		for ns := range namespaces {
			nsNames = append(nsNames, ns)
		}
		sort.Strings(nsNames)
		for _, ns := range nsNames {
			c.Objects = append(c.Objects, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		}
	}
	return clusters
}

func kubeProtocol(p ServicePort) corev1.Protocol {
	switch strings.ToUpper(p.Protocol) {
	case "UDP":
		return corev1.ProtocolUDP
	case "SCTP":
		return corev1.ProtocolSCTP
	}
	return corev1.ProtocolTCP
}

func servicePortTarget(p ServicePort) intstr.IntOrString {
	switch {
	case p.TargetPortName != "":
		return intstr.FromString(p.TargetPortName)
	case p.TargetPortNumber != 0:
		return intstr.FromInt32(int32(p.TargetPortNumber))
	}
	return intstr.FromInt32(int32(p.Port))
}

func service(svc *KubeService, clusterIP string) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: svc.Ref.Name, Namespace: svc.Ref.Namespace, Labels: svc.Labels},
		Spec: corev1.ServiceSpec{
			ClusterIP: clusterIP,
			Selector:  svc.WorkloadSelectorLabels,
			Type:      corev1.ServiceTypeClusterIP,
		},
	}
	switch svc.ServiceType {
	case "NODE_PORT":
		s.Spec.Type = corev1.ServiceTypeNodePort
	case "LOAD_BALANCER":
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		for _, a := range svc.ExternalAddresses {
			s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress,
				corev1.LoadBalancerIngress{IP: a.IP, Hostname: a.DNSName})
		}
	}
	for _, p := range svc.Ports {
		sp := corev1.ServicePort{
			Name:       p.Name,
			Port:       int32(p.Port),
			Protocol:   kubeProtocol(p),
			TargetPort: servicePortTarget(p),
			NodePort:   int32(p.NodePort),
		}
		if p.AppProtocol != "" {
			ap := p.AppProtocol
			sp.AppProtocol = &ap
		}
		s.Spec.Ports = append(s.Spec.Ports, sp)
	}
	return s
}

// backendPods places the pods that back a Destination: one per endpoint the Destination lists
// (with its address and labels); when it lists none, one per Workload of the inputs whose pods
// the Service selects (with the Workload's labels and account), or else one with the selector's
// labels.
func backendPods(in *Inputs, d *Destination, book *addressBook) []Pod {
	svc := d.KubeService
	if len(svc.WorkloadSelectorLabels) == 0 {
		return nil
	}
	var pods []Pod
	for _, subset := range svc.EndpointSubsets {
		for _, ep := range subset.Endpoints {
			labels := map[string]string{}
			for k, v := range svc.WorkloadSelectorLabels {
				labels[k] = v
			}
			for k, v := range ep.Labels {
				labels[k] = v
			}
			ip := ep.IPAddress
			if ip == "" {
				ip = book.nextPodIP()
			}
			account, known := serviceAccountFor(in, svc, labels)
			pods = append(pods, Pod{IP: ip, Labels: labels, ServiceAccount: account, AccountKnown: known})
		}
	}
	if len(pods) == 0 {
		for _, k := range selectedWorkloads(in, svc) {
			pods = append(pods, Pod{IP: book.nextPodIP(), Labels: k.PodLabels, ServiceAccount: accountOf(k), AccountKnown: true})
		}
	}
	if len(pods) == 0 {
		labels := map[string]string{}
		for k, v := range svc.WorkloadSelectorLabels {
			labels[k] = v
		}
		pods = append(pods, Pod{IP: book.nextPodIP(), Labels: labels, ServiceAccount: "default"})
	}
	for i := range pods {
		pods[i].Name = fmt.Sprintf("%s-%d", svc.Ref.Name, i)
		pods[i].Namespace = svc.Ref.Namespace
	}
	return pods
}

// workloadsIn are the Kubernetes Workloads of the inputs in the Service's cluster and namespace.
func workloadsIn(in *Inputs, svc *KubeService) []*KubernetesWorkload {
	var out []*KubernetesWorkload
	for _, w := range in.Workloads {
		k := w.Kubernetes
		if k != nil && k.Controller.ClusterName == svc.Ref.ClusterName && k.Controller.Namespace == svc.Ref.Namespace {
			out = append(out, k)
		}
	}
	return out
}

// selectedWorkloads are the Workloads whose pods the Service's selector selects: their pod
// labels include every label of the selector, as Kubernetes selects pods.
func selectedWorkloads(in *Inputs, svc *KubeService) []*KubernetesWorkload {
	var out []*KubernetesWorkload
	for _, k := range workloadsIn(in, svc) {
		if labelsInclude(k.PodLabels, svc.WorkloadSelectorLabels) {
			out = append(out, k)
		}
	}
	return out
}

func labelsInclude(labels, selector map[string]string) bool {
	for key, v := range selector {
		if got, ok := labels[key]; !ok || got != v {
			return false
		}
	}
	return true
}

// accountOf is the Workload's service account; a pod that names none runs as `default`.
func accountOf(k *KubernetesWorkload) string {
	if k.ServiceAccountName == "" {
		return "default"
	}
	return k.ServiceAccountName
}

// serviceAccountFor is the account of the Workload (same cluster and namespace) whose pod labels
// the pod carries, and whether one does; otherwise Kubernetes' `default`.
func serviceAccountFor(in *Inputs, svc *KubeService, labels map[string]string) (string, bool) {
	for _, k := range workloadsIn(in, svc) {
		if len(k.PodLabels) > 0 && labelsInclude(labels, k.PodLabels) {
			return accountOf(k), true
		}
	}
	return "default", false
}

func pod(p Pod, svc *KubeService) *corev1.Pod {
	labels := map[string]string{"security.istio.io/tlsMode": "istio"}
	for k, v := range p.Labels {
		labels[k] = v
	}
	container := corev1.Container{Name: "app", Image: "app"}
	for _, sp := range svc.Ports {
		cp := corev1.ContainerPort{ContainerPort: int32(targetPort(svc, sp)), Protocol: kubeProtocol(sp)}
		if sp.TargetPortName != "" {
			cp.Name = sp.TargetPortName
		}
		container.Ports = append(container.Ports, cp)
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: p.Name, Namespace: p.Namespace, Labels: labels,
			Annotations: map[string]string{"sidecar.istio.io/status": `{"containers":["istio-proxy"]}`},
		},
		Spec: corev1.PodSpec{
			ServiceAccountName: p.ServiceAccount,
			NodeName:           "node",
			Containers:         []corev1.Container{container, {Name: "istio-proxy", Image: "proxyv2"}},
		},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			PodIP:      p.IP,
			PodIPs:     []corev1.PodIP{{IP: p.IP}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		},
	}
}

// endpointSlice is what Kubernetes' EndpointSlice controller writes: endpoint ports carry the
// *Service* port's name and the resolved target port number.
func endpointSlice(svc *KubeService, pods []Pod) *discoveryv1.EndpointSlice {
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: svc.Ref.Name + "-slice", Namespace: svc.Ref.Namespace,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc.Ref.Name},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	ready := true
	for _, p := range pods {
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{p.IP},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Name: p.Name, Namespace: p.Namespace},
		})
	}
	for _, sp := range svc.Ports {
		name := sp.Name
		port := int32(targetPort(svc, sp))
		proto := kubeProtocol(sp)
		slice.Ports = append(slice.Ports, discoveryv1.EndpointPort{Name: &name, Port: &port, Protocol: &proto})
	}
	return slice
}

// plainService is an ordinary in-mesh Service of the client cluster on every port a federated
// host uses there: a call to it must reach it, not a federated ServiceEntry.
func plainService(c *Cluster) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: plainNamespace},
		Spec:       corev1.ServiceSpec{ClusterIP: c.PlainIP, Selector: map[string]string{"app": "plain"}},
	}
	ports := make([]uint32, 0, len(c.PlainPorts))
	for p := range c.PlainPorts {
		ports = append(ports, p)
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i] < ports[j] })
	for _, number := range ports {
		p := c.PlainPorts[number]
		sp := corev1.ServicePort{Name: p.Name, Port: int32(number), Protocol: kubeProtocol(p), TargetPort: intstr.FromInt32(int32(number))}
		if p.AppProtocol != "" {
			ap := p.AppProtocol
			sp.AppProtocol = &ap
		}
		s.Spec.Ports = append(s.Spec.Ports, sp)
	}
	return s
}
