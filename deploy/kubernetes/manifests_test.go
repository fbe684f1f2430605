// Package kubernetes_test checks the manifests in this directory without a cluster: every
// resource decodes strictly into its Kubernetes API type, everything one manifest names exists in
// another, and the agent's privileges are exactly the documented ones.
package kubernetes_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

const namespace = "ebpftap"

// agentCapabilities are what the node agent adds after dropping ALL; agent-daemonset.yaml and
// README.md say what each one is for.
var agentCapabilities = []corev1.Capability{"BPF", "DAC_READ_SEARCH", "PERFMON", "SYS_PTRACE"}

// agentHostPaths are the host directories the agent mounts, read-only; /proc comes with hostPID.
var agentHostPaths = []string{"/sys/kernel/btf", "/sys/kernel/tracing"}

// healthPort is the health_check extension's port, which the probes ask.
const healthPort = 13133

// kustomization holds the fields of kustomization.yaml this directory uses; decoded strictly, a
// field kustomize knows but this test does not fails here first, to be added on purpose.
type kustomization struct {
	APIVersion         string               `json:"apiVersion"`
	Kind               string               `json:"kind"`
	Namespace          string               `json:"namespace"`
	Resources          []string             `json:"resources"`
	ConfigMapGenerator []configMapGenerator `json:"configMapGenerator"`
	Images             []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
	} `json:"images"`
}

type configMapGenerator struct {
	Name  string   `json:"name"`
	Files []string `json:"files"` // "file" or "key=file"
}

// file returns the file behind key in the generated ConfigMap.
func (g configMapGenerator) file(key string) (string, bool) {
	for _, f := range g.Files {
		k, path, found := strings.Cut(f, "=")
		if !found {
			k, path = f, f
		}
		if k == key {
			return path, true
		}
	}
	return "", false
}

// manifests are the decoded resources of the kustomization.
type manifests struct {
	kustomization       kustomization
	namespaces          []corev1.Namespace
	serviceAccounts     []corev1.ServiceAccount
	services            []corev1.Service
	clusterRoles        []rbacv1.ClusterRole
	clusterRoleBindings []rbacv1.ClusterRoleBinding
	daemonSets          []appsv1.DaemonSet
	deployments         []appsv1.Deployment
}

// decodeDocument decodes one YAML document strictly into the type its apiVersion and kind name:
// unknown or duplicate fields are errors. It returns the object's metadata.
func (m *manifests) decodeDocument(doc []byte) (*metav1.ObjectMeta, error) {
	var typeMeta metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &typeMeta); err != nil {
		return nil, fmt.Errorf("reading apiVersion and kind: %w", err)
	}
	switch typeMeta.APIVersion + " " + typeMeta.Kind {
	case "v1 Namespace":
		return decodeInto(doc, &m.namespaces, func(o *corev1.Namespace) *metav1.ObjectMeta { return &o.ObjectMeta })
	case "v1 ServiceAccount":
		return decodeInto(doc, &m.serviceAccounts, func(o *corev1.ServiceAccount) *metav1.ObjectMeta { return &o.ObjectMeta })
	case "v1 Service":
		return decodeInto(doc, &m.services, func(o *corev1.Service) *metav1.ObjectMeta { return &o.ObjectMeta })
	case "rbac.authorization.k8s.io/v1 ClusterRole":
		return decodeInto(doc, &m.clusterRoles, func(o *rbacv1.ClusterRole) *metav1.ObjectMeta { return &o.ObjectMeta })
	case "rbac.authorization.k8s.io/v1 ClusterRoleBinding":
		return decodeInto(doc, &m.clusterRoleBindings, func(o *rbacv1.ClusterRoleBinding) *metav1.ObjectMeta { return &o.ObjectMeta })
	case "apps/v1 DaemonSet":
		return decodeInto(doc, &m.daemonSets, func(o *appsv1.DaemonSet) *metav1.ObjectMeta { return &o.ObjectMeta })
	case "apps/v1 Deployment":
		return decodeInto(doc, &m.deployments, func(o *appsv1.Deployment) *metav1.ObjectMeta { return &o.ObjectMeta })
	}
	return nil, fmt.Errorf("no API type for apiVersion %q, kind %q: add it to decodeDocument", typeMeta.APIVersion, typeMeta.Kind)
}

func decodeInto[T any](doc []byte, list *[]T, meta func(*T) *metav1.ObjectMeta) (*metav1.ObjectMeta, error) {
	var obj T
	if err := unmarshalStrict(doc, &obj); err != nil {
		return nil, err
	}
	*list = append(*list, obj)
	return meta(&(*list)[len(*list)-1]), nil
}

// unmarshalStrict decodes a YAML document as the API server does with strict field validation:
// field names match case-sensitively, and unknown or duplicate fields are errors.
// (sigs.k8s.io/yaml's UnmarshalStrict goes through encoding/json, which would take `hostPid`
// for `hostPID`; the API server would not.)
func unmarshalStrict(doc []byte, v any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strictErrs, err := kjson.UnmarshalStrict(j, v)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}

// decodeFile decodes every document of a multi-document YAML file; a document of comments only
// is skipped.
func (m *manifests) decodeFile(name string, content []byte) error {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(content)))
	for i := 0; ; i++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: reading document %d: %w", name, i, err)
		}
		var content any
		if err := yaml.Unmarshal(doc, &content); err != nil {
			return fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		if content == nil {
			continue
		}
		meta, err := m.decodeDocument(doc)
		if err != nil {
			return fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		if meta.Name == "" {
			return fmt.Errorf("%s: document %d: no metadata.name", name, i)
		}
	}
}

// loadManifests reads kustomization.yaml and decodes every resource it lists.
func loadManifests(t *testing.T) *manifests {
	t.Helper()
	var m manifests
	if err := unmarshalStrict(readFile(t, "kustomization.yaml"), &m.kustomization); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	for _, name := range m.kustomization.Resources {
		if err := m.decodeFile(name, readFile(t, name)); err != nil {
			t.Fatal(err)
		}
	}
	return &m
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return b
}

func TestKustomization(t *testing.T) {
	m := loadManifests(t)
	k := m.kustomization
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("apiVersion %q, kind %q: want kustomize.config.k8s.io/v1beta1 Kustomization", k.APIVersion, k.Kind)
	}
	if k.Namespace != namespace {
		t.Errorf("namespace %q, want %q", k.Namespace, namespace)
	}
	for _, g := range k.ConfigMapGenerator {
		for _, f := range g.Files {
			_, path, found := strings.Cut(f, "=")
			if !found {
				path = f
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("configMapGenerator %s: %v", g.Name, err)
			}
		}
	}
	if !slices.ContainsFunc(m.namespaces, func(n corev1.Namespace) bool { return n.Name == namespace }) {
		t.Errorf("no Namespace %s among the resources", namespace)
	}
	// Written out in each file too, so that a file applied alone lands where kustomize puts it.
	for _, meta := range m.namespacedObjects() {
		if meta.Namespace != namespace {
			t.Errorf("%s: namespace %q, want %q", meta.Name, meta.Namespace, namespace)
		}
	}
}

func (m *manifests) namespacedObjects() []metav1.ObjectMeta {
	var metas []metav1.ObjectMeta
	for _, o := range m.serviceAccounts {
		metas = append(metas, o.ObjectMeta)
	}
	for _, o := range m.services {
		metas = append(metas, o.ObjectMeta)
	}
	for _, o := range m.daemonSets {
		metas = append(metas, o.ObjectMeta)
	}
	for _, o := range m.deployments {
		metas = append(metas, o.ObjectMeta)
	}
	return metas
}

// TestDecodeIsStrict makes sure a misspelt or misplaced field fails the decoding, which the
// other tests rely on.
func TestDecodeIsStrict(t *testing.T) {
	for name, doc := range map[string]string{
		"field in another case": "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: a}\nspec:\n  template:\n    spec:\n      hostPid: true\n",
		"misspelt field":        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: a}\nspec:\n  template:\n    spec:\n      hostPIDs: true\n",
		"misplaced field":       "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: a}\nspec:\n  hostPID: true\n",
		"duplicate field":       "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {clusterIP: None, clusterIP: None}\n",
		"unknown kind":          "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n",
		"wrong version":         "apiVersion: apps/v1beta2\nkind: Deployment\nmetadata: {name: a}\n",
		"no name":               "apiVersion: v1\nkind: ServiceAccount\nmetadata: {}\n",
		"second document":       "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: b}\nautomount: false\n",
		"wrong value type":      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {replicas: two}\n",
	} {
		var m manifests
		if err := m.decodeFile(name, []byte(doc)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

func TestAgentDaemonSet(t *testing.T) {
	m := loadManifests(t)
	if len(m.daemonSets) != 1 {
		t.Fatalf("%d DaemonSets, want the agent's only", len(m.daemonSets))
	}
	ds := m.daemonSets[0]
	pod := ds.Spec.Template.Spec
	if !pod.HostPID {
		t.Error("hostPID is not set: the engine reads host PIDs in /proc")
	}
	if pod.HostNetwork || pod.HostIPC {
		t.Error("hostNetwork or hostIPC is set; the agent needs neither")
	}
	if !slices.ContainsFunc(pod.Tolerations, func(tl corev1.Toleration) bool {
		return tl.Key == "" && tl.Operator == corev1.TolerationOpExists && tl.Effect == ""
	}) {
		t.Error("no toleration of every taint: nodes with taints would have no agent")
	}
	if len(pod.InitContainers) != 0 {
		t.Error("init containers: their privileges are not checked here")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	checkConfined(t, c, agentCapabilities)
	// Added capabilities reach the effective set of uid 0 only.
	if sc := c.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 0 {
		t.Error("runAsUser is not 0: the added capabilities would not be effective")
	}

	for _, vm := range c.VolumeMounts {
		if !vm.ReadOnly {
			t.Errorf("volume %s is mounted read-write", vm.Name)
		}
	}
	var hostPaths []string
	for _, v := range pod.Volumes {
		if v.HostPath == nil {
			continue
		}
		hostPaths = append(hostPaths, v.HostPath.Path)
		if !slices.ContainsFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool {
			return vm.Name == v.Name && vm.MountPath == v.HostPath.Path
		}) {
			t.Errorf("host path %s is not mounted at the same path", v.HostPath.Path)
		}
	}
	if slices.Sort(hostPaths); !slices.Equal(hostPaths, agentHostPaths) {
		t.Errorf("host paths %v, want %v", hostPaths, agentHostPaths)
	}

	if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
		return e.Name == "K8S_NODE_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil &&
			e.ValueFrom.FieldRef.FieldPath == "spec.nodeName"
	}) {
		t.Error("no env K8S_NODE_NAME from spec.nodeName: k8s_attributes would watch every node's pods")
	}
	checkResources(t, c)
	checkHealthProbes(t, c)
}

func TestGatewayDeployment(t *testing.T) {
	m := loadManifests(t)
	if len(m.deployments) != 1 {
		t.Fatalf("%d Deployments, want the gateway's only", len(m.deployments))
	}
	d := m.deployments[0]
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Error("fewer than 2 replicas: one restart would stop every trace")
	}
	pod := d.Spec.Template.Spec
	if pod.HostPID || pod.HostNetwork || pod.HostIPC {
		t.Error("the gateway shares a host namespace")
	}
	for _, v := range pod.Volumes {
		if v.HostPath != nil {
			t.Errorf("the gateway mounts host path %s", v.HostPath.Path)
		}
	}
	if len(pod.InitContainers) != 0 || len(pod.Containers) != 1 {
		t.Fatalf("%d init containers and %d containers, want 0 and 1", len(pod.InitContainers), len(pod.Containers))
	}
	c := pod.Containers[0]
	checkConfined(t, c, nil)
	psc, sc := pod.SecurityContext, c.SecurityContext
	nonRoot := (psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot) || (sc != nil && sc.RunAsNonRoot != nil && *sc.RunAsNonRoot)
	if !nonRoot || (sc != nil && sc.RunAsUser != nil && *sc.RunAsUser == 0) || (psc != nil && psc.RunAsUser != nil && *psc.RunAsUser == 0) {
		t.Error("the gateway may run as root")
	}
	checkResources(t, c)
	checkHealthProbes(t, c)
}

// checkConfined requires a container that is not privileged, cannot gain privileges, has a
// read-only root filesystem, drops every capability and adds exactly add.
func checkConfined(t *testing.T, c corev1.Container, add []corev1.Capability) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil {
		t.Errorf("container %s: no securityContext.capabilities", c.Name)
		return
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Errorf("container %s: privileged", c.Name)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("container %s: allowPrivilegeEscalation is not false", c.Name)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("container %s: readOnlyRootFilesystem is not true", c.Name)
	}
	if !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container %s: capabilities.drop %v, want [ALL]", c.Name, sc.Capabilities.Drop)
	}
	if got := slices.Sorted(slices.Values(sc.Capabilities.Add)); !slices.Equal(got, add) {
		t.Errorf("container %s: capabilities.add %v, want %v", c.Name, got, add)
	}
}

// checkResources requires requests and a memory limit.
func checkResources(t *testing.T, c corev1.Container) {
	t.Helper()
	if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
		t.Errorf("container %s: no memory limit", c.Name)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("container %s: no %s request", c.Name, r)
		}
	}
}

// checkHealthProbes requires readiness and liveness probes on the health_check port.
func checkHealthProbes(t *testing.T, c corev1.Container) {
	t.Helper()
	for name, p := range map[string]*corev1.Probe{"readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("container %s: no HTTP %s", c.Name, name)
			continue
		}
		if port, ok := containerPort(c, p.HTTPGet.Port); !ok || port != healthPort {
			t.Errorf("container %s: %s on port %s, want %d", c.Name, name, p.HTTPGet.Port.String(), healthPort)
		}
	}
}

// containerPort resolves a port number or a port name of c.
func containerPort(c corev1.Container, port intstr.IntOrString) (int32, bool) {
	if port.Type == intstr.Int {
		return port.IntVal, true
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

func TestClusterRole(t *testing.T) {
	m := loadManifests(t)
	if len(m.daemonSets) != 1 {
		t.Fatalf("%d DaemonSets, want 1", len(m.daemonSets))
	}
	agentSA := m.daemonSets[0].Spec.Template.Spec.ServiceAccountName
	var rules []rbacv1.PolicyRule
	for _, b := range m.clusterRoleBindings {
		if b.RoleRef.Kind != "ClusterRole" || b.RoleRef.APIGroup != rbacv1.GroupName {
			t.Errorf("ClusterRoleBinding %s: roleRef %s/%s", b.Name, b.RoleRef.APIGroup, b.RoleRef.Kind)
			continue
		}
		i := slices.IndexFunc(m.clusterRoles, func(r rbacv1.ClusterRole) bool { return r.Name == b.RoleRef.Name })
		if i < 0 {
			t.Errorf("ClusterRoleBinding %s: no ClusterRole %s", b.Name, b.RoleRef.Name)
			continue
		}
		for _, s := range b.Subjects {
			if s.Kind != rbacv1.ServiceAccountKind || s.Namespace != namespace || !m.hasServiceAccount(s.Name) {
				t.Errorf("ClusterRoleBinding %s: subject %s %s/%s is not a ServiceAccount of these manifests", b.Name, s.Kind, s.Namespace, s.Name)
			}
			if s.Kind == rbacv1.ServiceAccountKind && s.Name == agentSA {
				rules = append(rules, m.clusterRoles[i].Rules...)
			}
		}
	}
	for _, want := range []struct{ group, resource string }{{"", "pods"}, {"", "namespaces"}, {"apps", "replicasets"}} {
		for _, verb := range []string{"get", "list", "watch"} {
			if !slices.ContainsFunc(rules, func(r rbacv1.PolicyRule) bool {
				return slices.Contains(r.APIGroups, want.group) && slices.Contains(r.Resources, want.resource) && slices.Contains(r.Verbs, verb)
			}) {
				t.Errorf("the agent's ServiceAccount %s may not %s %s in group %q", agentSA, verb, want.resource, want.group)
			}
		}
	}
	// Read-only: nothing the agent does writes to the API server.
	for _, r := range rules {
		for _, verb := range r.Verbs {
			if !slices.Contains([]string{"get", "list", "watch"}, verb) {
				t.Errorf("the agent may %s %v", verb, r.Resources)
			}
		}
	}
}

func (m *manifests) hasServiceAccount(name string) bool {
	return slices.ContainsFunc(m.serviceAccounts, func(sa corev1.ServiceAccount) bool { return sa.Name == name })
}

// workload is a pod template and the name of what owns it.
type workload struct {
	name string
	pod  corev1.PodTemplateSpec
}

func (m *manifests) workloads() []workload {
	var ws []workload
	for _, d := range m.daemonSets {
		ws = append(ws, workload{"DaemonSet " + d.Name, d.Spec.Template})
	}
	for _, d := range m.deployments {
		ws = append(ws, workload{"Deployment " + d.Name, d.Spec.Template})
	}
	return ws
}

// TestReferences checks that what a workload or Service names exists in the kustomization.
func TestReferences(t *testing.T) {
	m := loadManifests(t)
	images := make(map[string]bool)
	for _, img := range m.kustomization.Images {
		images[img.Name] = true
	}
	for _, w := range m.workloads() {
		pod := w.pod.Spec
		if !m.hasServiceAccount(pod.ServiceAccountName) {
			t.Errorf("%s: ServiceAccount %q is not among the resources", w.name, pod.ServiceAccountName)
		}
		for _, v := range pod.Volumes {
			if v.ConfigMap != nil && m.configMapGenerator(v.ConfigMap.Name) == nil {
				t.Errorf("%s: ConfigMap %q is not generated by the kustomization", w.name, v.ConfigMap.Name)
			}
		}
		for _, c := range pod.Containers {
			repository, _, _ := strings.Cut(c.Image, ":")
			if !images[repository] {
				t.Errorf("%s: image %s is not under the kustomization's images, so `kustomize edit set image` misses it", w.name, c.Image)
			}
		}
	}
	for _, s := range m.services {
		selected := m.selectedWorkloads(s)
		if len(selected) == 0 {
			t.Errorf("Service %s selects no workload", s.Name)
		}
		for _, w := range selected {
			for _, p := range s.Spec.Ports {
				if !slices.ContainsFunc(w.pod.Spec.Containers, func(c corev1.Container) bool {
					port, ok := containerPort(c, p.TargetPort)
					return ok && port == p.Port
				}) {
					t.Errorf("Service %s: port %d targets %s, which no container of %s serves on that number", s.Name, p.Port, p.TargetPort.String(), w.name)
				}
			}
		}
	}
}

func (m *manifests) configMapGenerator(name string) *configMapGenerator {
	for i, g := range m.kustomization.ConfigMapGenerator {
		if g.Name == name {
			return &m.kustomization.ConfigMapGenerator[i]
		}
	}
	return nil
}

func (m *manifests) selectedWorkloads(s corev1.Service) []workload {
	var selected []workload
	for _, w := range m.workloads() {
		if len(s.Spec.Selector) > 0 && isSubset(s.Spec.Selector, w.pod.Labels) {
			selected = append(selected, w)
		}
	}
	return selected
}

func isSubset(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// collectorConfig follows the container's --config flag to the mounted ConfigMap and the file
// the kustomization generates it from, and parses that file.
func (m *manifests) collectorConfig(t *testing.T, pod corev1.PodSpec) map[string]any {
	t.Helper()
	c := pod.Containers[0]
	var path string
	for _, arg := range c.Args {
		if p, ok := strings.CutPrefix(arg, "--config="); ok {
			path = p
		}
	}
	for _, vm := range c.VolumeMounts {
		key, ok := strings.CutPrefix(path, vm.MountPath+"/")
		if !ok {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name != vm.Name || v.ConfigMap == nil {
				continue
			}
			g := m.configMapGenerator(v.ConfigMap.Name)
			if g == nil {
				t.Fatalf("ConfigMap %s is not generated", v.ConfigMap.Name)
			}
			file, ok := g.file(key)
			if !ok {
				t.Fatalf("ConfigMap %s has no key %s", g.Name, key)
			}
			var cfg map[string]any
			if err := yaml.Unmarshal(readFile(t, file), &cfg); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			return cfg
		}
	}
	t.Fatalf("container %s: --config=%q is in no mounted ConfigMap", c.Name, path)
	return nil
}

// lookup returns the value at a path of keys in a parsed YAML document, or nil.
func lookup(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// TestCollectorConfigs checks the collector configs against the manifests that run them: the
// agent exports to the gateways' Services, the health_check port is the probes' port, and the
// memory_limiter refuses data below the container's memory limit.
func TestCollectorConfigs(t *testing.T) {
	m := loadManifests(t)
	if len(m.daemonSets) != 1 || len(m.deployments) != 1 {
		t.Fatalf("%d DaemonSets and %d Deployments, want 1 and 1", len(m.daemonSets), len(m.deployments))
	}
	agent := m.collectorConfig(t, m.daemonSets[0].Spec.Template.Spec)
	gateway := workload{"Deployment " + m.deployments[0].Name, m.deployments[0].Spec.Template}

	if got := lookup(agent, "exporters", "load_balancing", "routing_key"); got != "traceID" {
		t.Errorf("load_balancing routing_key %v, want traceID: tail sampling needs whole traces", got)
	}
	lbHost := lookup(agent, "exporters", "load_balancing", "resolver", "dns", "hostname")
	lbPort := lookup(agent, "exporters", "load_balancing", "resolver", "dns", "port")
	m.checkServiceAddress(t, "load_balancing resolver", fmt.Sprint(lbHost)+":"+fmt.Sprint(lbPort), true, gateway)
	m.checkServiceAddress(t, "otlp_grpc exporter", fmt.Sprint(lookup(agent, "exporters", "otlp_grpc", "endpoint")), false, gateway)

	if got := lookup(agent, "processors", "k8s_attributes", "filter", "node"); got != "${env:K8S_NODE_NAME}" {
		t.Errorf("k8s_attributes filter.node %v, want ${env:K8S_NODE_NAME}", got)
	}
	assoc, _ := lookup(agent, "processors", "k8s_attributes", "pod_association").([]any)
	if !slices.ContainsFunc(assoc, func(a any) bool {
		sources, _ := lookup(a, "sources").([]any)
		return slices.ContainsFunc(sources, func(s any) bool {
			return lookup(s, "from") == "resource_attribute" && lookup(s, "name") == "container.id"
		})
	}) {
		t.Error("k8s_attributes does not associate by the container.id resource attribute")
	}

	for _, w := range m.workloads() {
		cfg := m.collectorConfig(t, w.pod.Spec)
		c := w.pod.Spec.Containers[0]
		if _, port, err := net.SplitHostPort(fmt.Sprint(lookup(cfg, "extensions", "health_check", "endpoint"))); err != nil || port != strconv.Itoa(healthPort) {
			t.Errorf("%s: health_check endpoint port %q (%v), want %d", w.name, port, err, healthPort)
		}
		limitMiB, ok := lookup(cfg, "processors", "memory_limiter", "limit_mib").(float64)
		memLimit := c.Resources.Limits[corev1.ResourceMemory]
		if !ok || int64(limitMiB)<<20 >= memLimit.Value() {
			t.Errorf("%s: memory_limiter limit_mib %v is not below the container's memory limit %s", w.name, lookup(cfg, "processors", "memory_limiter", "limit_mib"), memLimit.String())
		}
		pipelines, _ := lookup(cfg, "service", "pipelines").(map[string]any)
		if len(pipelines) == 0 {
			t.Errorf("%s: no pipelines", w.name)
		}
		for name, p := range pipelines {
			if procs, _ := lookup(p, "processors").([]any); len(procs) == 0 || procs[0] != "memory_limiter" {
				t.Errorf("%s: pipeline %s does not start with memory_limiter", w.name, name)
			}
		}
	}
}

// checkServiceAddress requires host:port to name a Service of these manifests, in this
// namespace, with that port, headless or not as asked, selecting the target workload.
func (m *manifests) checkServiceAddress(t *testing.T, what, address string, headless bool, target workload) {
	t.Helper()
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		t.Errorf("%s: address %q: %v", what, address, err)
		return
	}
	name, ns, _ := strings.Cut(host, ".")
	if ns != "" && ns != namespace && !strings.HasPrefix(ns, namespace+".") {
		t.Errorf("%s: %s is not in namespace %s", what, host, namespace)
	}
	i := slices.IndexFunc(m.services, func(s corev1.Service) bool { return s.Name == name })
	if i < 0 {
		t.Errorf("%s: no Service %s", what, name)
		return
	}
	s := m.services[i]
	if isHeadless := s.Spec.ClusterIP == corev1.ClusterIPNone; isHeadless != headless {
		t.Errorf("%s: Service %s headless %v, want %v", what, name, isHeadless, headless)
	}
	if !slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return strconv.Itoa(int(p.Port)) == port }) {
		t.Errorf("%s: Service %s has no port %s", what, name, port)
	}
	if !slices.ContainsFunc(m.selectedWorkloads(s), func(w workload) bool { return w.name == target.name }) {
		t.Errorf("%s: Service %s does not select %s", what, name, target.name)
	}
}

// TestREADMECapabilities keeps the README's table of the agent's capabilities, one row each, in
// step with the DaemonSet.
func TestREADMECapabilities(t *testing.T) {
	var rows []corev1.Capability
	for _, line := range strings.Split(string(readFile(t, "README.md")), "\n") {
		if rest, ok := strings.CutPrefix(line, "| `CAP_"); ok {
			name, _, _ := strings.Cut(rest, "`")
			rows = append(rows, corev1.Capability(name))
		}
	}
	if slices.Sort(rows); !slices.Equal(rows, agentCapabilities) {
		t.Errorf("README.md's capability table lists %v, want %v", rows, agentCapabilities)
	}
}
