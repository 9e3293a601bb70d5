// The kinds skiff serves: their API group, resource names, scope and structural schema.
import { any, arr, bool, int, intOrString, map, num, obj, quantity, str, type Schema } from './schema.ts';

const labelSelectorRequirement = obj(
  { key: str(), operator: str(['In', 'NotIn', 'Exists', 'DoesNotExist']), values: arr(str()) },
  { key: '', operator: 'one of In, NotIn, Exists, DoesNotExist' },
);
const labelSelector = obj({ matchLabels: map(str()), matchExpressions: arr(labelSelectorRequirement) });

const ownerReference = obj(
  { apiVersion: str(), kind: str(), name: str(), uid: str(), controller: bool, blockOwnerDeletion: bool },
  { apiVersion: '', kind: '', name: '', uid: '' },
);

export const objectMeta = obj({
  name: str(),
  generateName: str(),
  namespace: str(),
  labels: map(str()),
  annotations: map(str()),
  ownerReferences: arr(ownerReference),
  finalizers: arr(str()),
  // Set by the server; accepted so that `skiff get -o yaml` output can be applied again.
  uid: str(),
  resourceVersion: str(),
  generation: int(),
  creationTimestamp: str(),
  deletionTimestamp: str(),
  deletionGracePeriodSeconds: int(),
});

const port = int(1, 65535);

const httpGet = obj(
  {
    path: str(),
    port: intOrString,
    host: str(),
    scheme: str(['HTTP']),
    httpHeaders: arr(obj({ name: str(), value: str() }, { name: '', value: '' })),
  },
  { port: 'a port number or the name of a container port' },
);

const probe = obj({
  httpGet,
  tcpSocket: obj({ port: intOrString, host: str() }, { port: 'a port number or the name of a container port' }),
  exec: obj({ command: arr(str()) }, { command: 'the command to run, as a list' }),
  initialDelaySeconds: int(0),
  periodSeconds: int(1),
  timeoutSeconds: int(1),
  failureThreshold: int(1),
  successThreshold: int(1),
  terminationGracePeriodSeconds: int(0),
});

const envVar = obj(
  {
    name: str(),
    value: str(),
    valueFrom: obj({ fieldRef: obj({ fieldPath: str(), apiVersion: str() }, { fieldPath: '' }) }),
  },
  { name: '' },
);

const resources = obj({ requests: map(quantity), limits: map(quantity) });

export const container = obj(
  {
    name: str(),
    image: str(),
    command: arr(str()),
    args: arr(str()),
    workingDir: str(),
    env: arr(envVar),
    ports: arr(
      obj(
        { name: str(), containerPort: port, protocol: str(['TCP']), hostPort: int(0, 65535), hostIP: str() },
        { containerPort: '' },
      ),
    ),
    resources,
    livenessProbe: probe,
    readinessProbe: probe,
    startupProbe: probe,
    volumeMounts: arr(obj({ name: str(), mountPath: str(), readOnly: bool, subPath: str() }, { name: '', mountPath: '' })),
    imagePullPolicy: str(['Always', 'IfNotPresent', 'Never']),
    terminationMessagePath: str(),
    terminationMessagePolicy: str(),
  },
  { name: '', command: 'a process needs a command; image alone cannot run' },
);

const nodeSelectorRequirement = obj(
  { key: str(), operator: str(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt']), values: arr(str()) },
  { key: '', operator: 'one of In, NotIn, Exists, DoesNotExist, Gt, Lt' },
);

const toleration = obj({
  key: str(),
  operator: str(['Equal', 'Exists']),
  value: str(),
  effect: str(['NoSchedule', 'PreferNoSchedule', 'NoExecute', '']),
  tolerationSeconds: int(),
});

export const podSpec = obj(
  {
    containers: arr(container),
    initContainers: arr(container),
    restartPolicy: str(['Always', 'OnFailure', 'Never']),
    terminationGracePeriodSeconds: int(0),
    activeDeadlineSeconds: int(1),
    nodeName: str(),
    nodeSelector: map(str()),
    affinity: obj({
      nodeAffinity: obj({
        requiredDuringSchedulingIgnoredDuringExecution: obj(
          { nodeSelectorTerms: arr(obj({ matchExpressions: arr(nodeSelectorRequirement) })) },
          { nodeSelectorTerms: '' },
        ),
        preferredDuringSchedulingIgnoredDuringExecution: any,
      }),
    }),
    tolerations: arr(toleration),
    volumes: arr(
      obj(
        {
          name: str(),
          emptyDir: obj({ medium: str(['', 'Memory']), sizeLimit: quantity }),
          hostPath: obj({ path: str(), type: str() }, { path: 'an absolute path on the node' }),
        },
        { name: '' },
      ),
    ),
    schedulerName: str(),
    priority: int(),
    serviceAccountName: str(),
    hostname: str(),
  },
  { containers: 'a pod needs at least one container' },
);

const podTemplate = obj({ metadata: objectMeta, spec: podSpec }, { spec: '' });

const condition = obj({
  type: str(), status: str(['True', 'False', 'Unknown']), reason: str(), message: str(),
  lastTransitionTime: str(), lastHeartbeatTime: str(), lastUpdateTime: str(), lastProbeTime: str(),
});

const taint = obj(
  { key: str(), value: str(), effect: str(['NoSchedule', 'PreferNoSchedule', 'NoExecute']), timeAdded: str() },
  { key: '', effect: 'one of NoSchedule, PreferNoSchedule, NoExecute' },
);

const metricTarget = obj(
  { type: str(['Utilization', 'Value', 'AverageValue']), averageUtilization: int(1), averageValue: quantity, value: quantity },
  { type: 'one of Utilization, Value, AverageValue' },
);

export interface KindInfo {
  kind: string;
  apiVersion: 'v1' | 'apps/v1' | 'autoscaling/v2' | 'rbac.authorization.k8s.io/v1' | 'skiff.io/v1';
  /** Other apiVersions accepted on input and rewritten to apiVersion (Kubernetes' own group for Lease). */
  apiVersionAliases?: string[];
  /** Plural, lower case: the name in subjects, buckets and `skiff get`. */
  resource: string;
  singular: string;
  shortNames: string[];
  namespaced: boolean;
  /** Status is written through its own verb and kept apart from spec writes. */
  hasStatus: boolean;
  /** Fields besides metadata and status whose change bumps metadata.generation. */
  specFields: string[];
  /** Status the creator may supply (a kubelet registering its Node); otherwise dropped on create. */
  statusOnCreate: boolean;
  /** Names are DNS labels (no dots) when they become subject tokens or service names. */
  nameRule: 'subdomain' | 'label' | 'dns1035';
  schema: Schema;
}

function kindSchema(apiVersions: string[], kind: string, body: Record<string, Schema>, required: Record<string, string> = {}): Schema {
  return obj(
    { apiVersion: str(apiVersions), kind: str([kind]), metadata: objectMeta, ...body },
    { apiVersion: '', kind: '', metadata: 'metadata.name is needed', ...required },
  );
}

function info(p: Omit<KindInfo, 'schema'> & { body: Record<string, Schema>; required?: Record<string, string> }): KindInfo {
  const { body, required, ...rest } = p;
  return { ...rest, schema: kindSchema([p.apiVersion, ...(p.apiVersionAliases ?? [])], p.kind, body, required) };
}

export const KINDS: KindInfo[] = [
  info({
    kind: 'Namespace', apiVersion: 'v1', resource: 'namespaces', singular: 'namespace', shortNames: ['ns'],
    namespaced: false, hasStatus: true, specFields: ['spec'], statusOnCreate: false, nameRule: 'label',
    body: { spec: obj({ finalizers: arr(str()) }), status: any },
  }),
  info({
    kind: 'Node', apiVersion: 'v1', resource: 'nodes', singular: 'node', shortNames: ['no'],
    namespaced: false, hasStatus: true, specFields: ['spec'], statusOnCreate: true, nameRule: 'label',
    body: {
      spec: obj({
        unschedulable: bool,
        podCIDR: str(),
        providerID: str(),
        taints: arr(taint),
      }),
      status: any,
    },
  }),
  info({
    kind: 'Pod', apiVersion: 'v1', resource: 'pods', singular: 'pod', shortNames: ['po'],
    namespaced: true, hasStatus: true, specFields: ['spec'], statusOnCreate: false, nameRule: 'subdomain',
    body: { spec: podSpec, status: any }, required: { spec: '' },
  }),
  info({
    kind: 'ReplicaSet', apiVersion: 'apps/v1', resource: 'replicasets', singular: 'replicaset', shortNames: ['rs'],
    namespaced: true, hasStatus: true, specFields: ['spec'], statusOnCreate: false, nameRule: 'subdomain',
    body: {
      spec: obj(
        { replicas: int(0), minReadySeconds: int(0), selector: labelSelector, template: podTemplate },
        { selector: 'a label selector matching the template labels', template: '' },
      ),
      status: any,
    },
    required: { spec: '' },
  }),
  info({
    kind: 'Deployment', apiVersion: 'apps/v1', resource: 'deployments', singular: 'deployment', shortNames: ['deploy'],
    namespaced: true, hasStatus: true, specFields: ['spec'], statusOnCreate: false, nameRule: 'subdomain',
    body: {
      spec: obj(
        {
          replicas: int(0),
          selector: labelSelector,
          template: podTemplate,
          strategy: obj({
            type: str(['RollingUpdate', 'Recreate']),
            rollingUpdate: obj({ maxSurge: intOrString, maxUnavailable: intOrString }),
          }),
          minReadySeconds: int(0),
          revisionHistoryLimit: int(0),
          progressDeadlineSeconds: int(1),
          paused: bool,
        },
        { selector: 'a label selector matching the template labels', template: '' },
      ),
      status: any,
    },
    required: { spec: '' },
  }),
  info({
    kind: 'Service', apiVersion: 'v1', resource: 'services', singular: 'service', shortNames: ['svc'],
    namespaced: true, hasStatus: true, specFields: ['spec'], statusOnCreate: false, nameRule: 'dns1035',
    body: {
      spec: obj(
        {
          selector: map(str()),
          ports: arr(obj(
            { name: str(), protocol: str(['TCP']), port, targetPort: intOrString, nodePort: int(0, 65535), appProtocol: str() },
            { port: 'the port the service listens on' },
          )),
          type: str(['ClusterIP', 'NodePort', 'LoadBalancer']),
          sessionAffinity: str(['None', 'ClientIP']),
          sessionAffinityConfig: obj({ clientIP: obj({ timeoutSeconds: int(1, 86400) }) }),
          clusterIP: str(),
          externalTrafficPolicy: str(['Cluster', 'Local']),
        },
        { ports: 'a service needs at least one port' },
      ),
      status: any,
    },
    required: { spec: '' },
  }),
  info({
    kind: 'Endpoints', apiVersion: 'v1', resource: 'endpoints', singular: 'endpoints', shortNames: ['ep'],
    namespaced: true, hasStatus: false, specFields: ['subsets'], statusOnCreate: false, nameRule: 'dns1035',
    body: {
      subsets: arr(obj({
        addresses: arr(any),
        notReadyAddresses: arr(any),
        ports: arr(obj({ name: str(), port, protocol: str(['TCP']) }, { port: '' })),
      })),
    },
  }),
  info({
    kind: 'HorizontalPodAutoscaler', apiVersion: 'autoscaling/v2', resource: 'horizontalpodautoscalers', singular: 'horizontalpodautoscaler',
    shortNames: ['hpa'], namespaced: true, hasStatus: true, specFields: ['spec'], statusOnCreate: false, nameRule: 'subdomain',
    body: {
      spec: obj(
        {
          scaleTargetRef: obj({ apiVersion: str(), kind: str(['Deployment', 'ReplicaSet']), name: str() }, { kind: '', name: '' }),
          minReplicas: int(1),
          maxReplicas: int(1),
          metrics: arr(obj(
            {
              type: str(['Resource', 'Pods']),
              resource: obj({ name: str(['cpu', 'memory']), target: metricTarget }, { name: '', target: '' }),
              pods: obj({ metric: obj({ name: str() }, { name: '' }), target: metricTarget }, { metric: '', target: '' }),
            },
            { type: 'Resource or Pods' },
          )),
          behavior: any,
        },
        { scaleTargetRef: 'the Deployment to scale', maxReplicas: '' },
      ),
      status: any,
    },
    required: { spec: '' },
  }),
  info({
    kind: 'NodePool', apiVersion: 'skiff.io/v1', resource: 'nodepools', singular: 'nodepool', shortNames: ['np'],
    namespaced: false, hasStatus: true, specFields: ['spec'], statusOnCreate: false, nameRule: 'label',
    body: {
      spec: obj(
        {
          minNodes: int(0),
          maxNodes: int(0),
          consolidateAfter: str(),
          template: obj(
            {
              labels: map(str()),
              taints: arr(taint),
              capacity: obj({ cpu: quantity, memory: quantity }, { cpu: 'every node\'s CPU, such as "1" or 500m', memory: 'every node\'s memory, such as 2Gi' }),
            },
            { capacity: 'what each node of the pool has: {cpu: "1", memory: 2Gi}' },
          ),
        },
        { maxNodes: 'the most nodes the pool may have', template: 'what each node is made from' },
      ),
      status: any,
    },
    required: { spec: '' },
  }),
  info({
    kind: 'Lease', apiVersion: 'v1', apiVersionAliases: ['coordination.k8s.io/v1'], resource: 'leases', singular: 'lease', shortNames: [],
    namespaced: true, hasStatus: false, specFields: ['spec'], statusOnCreate: false, nameRule: 'subdomain',
    body: {
      spec: obj({
        holderIdentity: str(), leaseDurationSeconds: num(0), acquireTime: str(), renewTime: str(), leaseTransitions: int(0),
      }),
    },
  }),
  info({
    kind: 'Event', apiVersion: 'v1', resource: 'events', singular: 'event', shortNames: ['ev'],
    namespaced: true, hasStatus: false, specFields: [], statusOnCreate: false, nameRule: 'subdomain',
    body: {
      involvedObject: obj(
        { kind: str(), name: str(), namespace: str(), uid: str(), apiVersion: str(), fieldPath: str(), resourceVersion: str() },
        { kind: '', name: '' },
      ),
      reason: str(), message: str(), type: str(['Normal', 'Warning']), count: int(1),
      firstTimestamp: str(), lastTimestamp: str(), eventTime: str(),
      source: obj({ component: str(), host: str() }), reportingComponent: str(), reportingInstance: str(),
      action: str(),
    },
    required: { involvedObject: '' },
  }),
  ...rbacKinds(),
];

/** Kubernetes' RBAC objects: who may do what (actors/apiserver/authorize.ts reads them). */
function rbacKinds(): KindInfo[] {
  const rule = obj(
    { apiGroups: arr(str()), resources: arr(str()), verbs: arr(str()), resourceNames: arr(str()) },
    { resources: 'the resources the rule covers, e.g. [pods] or [*]', verbs: 'e.g. [get, list, watch] or [*]' },
  );
  const roleRef = obj({ apiGroup: str(), kind: str(['Role', 'ClusterRole']), name: str() }, { kind: '', name: '' });
  const subject = obj({ kind: str(['User']), name: str(), apiGroup: str(), namespace: str() }, { kind: 'User', name: 'the user' });
  const rbac = { apiVersion: 'rbac.authorization.k8s.io/v1' as const, hasStatus: false, specFields: [], statusOnCreate: false, nameRule: 'subdomain' as const };
  return [
    info({ ...rbac, kind: 'ClusterRole', resource: 'clusterroles', singular: 'clusterrole', shortNames: [], namespaced: false, body: { rules: arr(rule) } }),
    info({ ...rbac, kind: 'Role', resource: 'roles', singular: 'role', shortNames: [], namespaced: true, body: { rules: arr(rule) } }),
    info({
      ...rbac, kind: 'ClusterRoleBinding', resource: 'clusterrolebindings', singular: 'clusterrolebinding', shortNames: [], namespaced: false,
      body: { roleRef, subjects: arr(subject) }, required: { roleRef: '' },
    }),
    info({
      ...rbac, kind: 'RoleBinding', resource: 'rolebindings', singular: 'rolebinding', shortNames: [], namespaced: true,
      body: { roleRef, subjects: arr(subject) }, required: { roleRef: '' },
    }),
  ];
}

const byKind = new Map(KINDS.map((k) => [k.kind, k]));
const byName = new Map<string, KindInfo>();
for (const k of KINDS) {
  for (const n of [k.resource, k.singular, k.kind.toLowerCase(), ...k.shortNames]) byName.set(n, k);
  const group = k.apiVersion.includes('/') ? k.apiVersion.split('/')[0] : '';
  if (group) byName.set(`${k.resource}.${group}`, k);
}

export function kindInfo(kind: string): KindInfo | undefined {
  return byKind.get(kind);
}

/** `pods`, `pod`, `po`, `Pod`, `deployments.apps` → the kind. */
export function resolveResource(name: string): KindInfo | undefined {
  return byName.get(name.toLowerCase()) ?? byKind.get(name);
}

export function kindByResource(resource: string): KindInfo | undefined {
  return KINDS.find((k) => k.resource === resource);
}
