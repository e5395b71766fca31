package kube

// The subset of Kubernetes' core/v1 objects that Export writes, as small
// structs of our own: k8s.io/api's package initialisation (the protobuf
// registration of every type) would cost every nsup start. The JSON names
// are Kubernetes' own; the tests decode every manifest strictly into
// k8s.io/api's types, so that a misspelt or misplaced field fails them.
// The field order is the order of the YAML.

import "encoding/json"

type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

type objectMeta struct {
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type pod struct {
	typeMeta
	Metadata objectMeta `json:"metadata"`
	Spec     podSpec    `json:"spec"`
}

type podSpec struct {
	Hostname                      string        `json:"hostname,omitempty"`
	HostNetwork                   bool          `json:"hostNetwork,omitempty"`
	HostPID                       bool          `json:"hostPID,omitempty"`
	HostIPC                       bool          `json:"hostIPC,omitempty"`
	ShareProcessNamespace         *bool         `json:"shareProcessNamespace,omitempty"`
	HostUsers                     *bool         `json:"hostUsers,omitempty"`
	RestartPolicy                 string        `json:"restartPolicy"`
	TerminationGracePeriodSeconds *int64        `json:"terminationGracePeriodSeconds,omitempty"`
	DNSPolicy                     string        `json:"dnsPolicy,omitempty"`
	DNSConfig                     *podDNSConfig `json:"dnsConfig,omitempty"`
	HostAliases                   []hostAlias   `json:"hostAliases,omitempty"`
	Containers                    []container   `json:"containers"`
	Volumes                       []volume      `json:"volumes,omitempty"`
}

type podDNSConfig struct {
	Nameservers []string `json:"nameservers,omitempty"`
}

type hostAlias struct {
	IP        string   `json:"ip"`
	Hostnames []string `json:"hostnames"`
}

type container struct {
	Name            string                `json:"name"`
	Image           string                `json:"image"`
	ImagePullPolicy string                `json:"imagePullPolicy"`
	Command         []string              `json:"command"`
	WorkingDir      string                `json:"workingDir,omitempty"`
	Env             []envVar              `json:"env,omitempty"`
	Ports           []containerPort       `json:"ports,omitempty"`
	Resources       *resourceRequirements `json:"resources,omitempty"`
	VolumeMounts    []volumeMount         `json:"volumeMounts,omitempty"`
	ReadinessProbe  *probe                `json:"readinessProbe,omitempty"`
	SecurityContext *securityContext      `json:"securityContext,omitempty"`
}

type envVar struct {
	Name      string        `json:"name"`
	Value     string        `json:"value"`
	ValueFrom *envVarSource `json:"valueFrom,omitempty"`
}

// MarshalJSON writes value or valueFrom, never both.
func (v envVar) MarshalJSON() ([]byte, error) {
	if v.ValueFrom != nil {
		return json.Marshal(struct {
			Name      string        `json:"name"`
			ValueFrom *envVarSource `json:"valueFrom"`
		}{v.Name, v.ValueFrom})
	}
	return json.Marshal(struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}{v.Name, v.Value})
}

type envVarSource struct {
	SecretKeyRef *secretKeySelector `json:"secretKeyRef"`
}

type secretKeySelector struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

type containerPort struct {
	ContainerPort int32  `json:"containerPort"`
	HostPort      int32  `json:"hostPort,omitempty"`
	HostIP        string `json:"hostIP,omitempty"`
	Protocol      string `json:"protocol"`
}

type resourceRequirements struct {
	Limits map[string]string `json:"limits,omitempty"`
}

type volumeMount struct {
	Name      string `json:"name"`
	MountPath string `json:"mountPath"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
	SubPath   string `json:"subPath,omitempty"`
}

type probe struct {
	Exec                *execAction `json:"exec"`
	InitialDelaySeconds int32       `json:"initialDelaySeconds,omitempty"`
	TimeoutSeconds      int32       `json:"timeoutSeconds"`
	PeriodSeconds       int32       `json:"periodSeconds"`
	SuccessThreshold    int32       `json:"successThreshold"`
	FailureThreshold    int32       `json:"failureThreshold"`
}

type execAction struct {
	Command []string `json:"command"`
}

type securityContext struct {
	Capabilities             *capabilities   `json:"capabilities,omitempty"`
	RunAsUser                *int64          `json:"runAsUser,omitempty"`
	RunAsGroup               *int64          `json:"runAsGroup,omitempty"`
	ReadOnlyRootFilesystem   *bool           `json:"readOnlyRootFilesystem,omitempty"`
	AllowPrivilegeEscalation *bool           `json:"allowPrivilegeEscalation,omitempty"`
	SeccompProfile           *seccompProfile `json:"seccompProfile,omitempty"`
}

type capabilities struct {
	Add  []string `json:"add,omitempty"`
	Drop []string `json:"drop,omitempty"`
}

type seccompProfile struct {
	Type             string `json:"type"`
	LocalhostProfile string `json:"localhostProfile,omitempty"`
}

type volume struct {
	Name                  string                `json:"name"`
	EmptyDir              *emptyDirSource       `json:"emptyDir,omitempty"`
	PersistentVolumeClaim *claimSource          `json:"persistentVolumeClaim,omitempty"`
	HostPath              *hostPathVolumeSource `json:"hostPath,omitempty"`
}

type emptyDirSource struct {
	Medium    string `json:"medium,omitempty"`
	SizeLimit string `json:"sizeLimit,omitempty"`
}

type claimSource struct {
	ClaimName string `json:"claimName"`
}

type hostPathVolumeSource struct {
	Path string `json:"path"`
	Type string `json:"type,omitempty"`
}

type persistentVolumeClaim struct {
	typeMeta
	Metadata objectMeta `json:"metadata"`
	Spec     claimSpec  `json:"spec"`
}

type claimSpec struct {
	AccessModes []string       `json:"accessModes"`
	Resources   claimResources `json:"resources"`
}

type claimResources struct {
	Requests map[string]string `json:"requests"`
}
